"""Derived objects kept on disk between runs (pickles named by what they are derived from).

A warm start reads what a cold start computed: reach indexes, edge indexes, road frames,
the townships' population cells. Each file's name carries the key of everything it is
derived from (the graph's cache key, which holds the source's hash and the library
versions, or the seeds manifest's hash) and a version of the code that derives it, so a
changed input or a changed rule is a new file, never a stale one. A file that cannot be
read is rebuilt; a folder that cannot be written only costs the recomputation.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

__all__ = ["load_or_build"]

log = logging.getLogger(__name__)

T = TypeVar("T")


def load_or_build(path: Path | None, build: Callable[[], T]) -> T:
    """Return the object pickled at ``path``, or build it, write it there (atomically) and return it.

    ``path`` None means no cache: just build.
    """
    if path is None:
        return build()
    if path.is_file():
        try:
            with path.open("rb") as fh:
                obj: T = pickle.load(fh)
            return obj
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError, ImportError) as exc:
            log.warning("cache %s is unreadable (%s); rebuilding", path, exc)
    obj = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # several processes may build at once
        with tmp.open("wb") as fh:
            pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    except OSError as exc:
        log.info("cache %s not written (%s); it is rebuilt on the next start", path, exc)
    return obj
