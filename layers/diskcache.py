"""Derived objects kept on disk between runs (pickles named by what they are derived from).

A warm start reads what a cold start computed: reach indexes, edge indexes, road frames,
the townships' population cells. Each file's name carries the key of everything it is
derived from (the graph's cache key, which holds the source's hash and the library
versions, or the seeds manifest's hash) and a version of the code that derives it, so a
changed input or a changed rule is a new file, never a stale one. A file that cannot be
read is rebuilt; a folder that cannot be written only costs the recomputation. When a file
is built, the files it supersedes (the same object derived by an older version of the code
or from older data, named by the caller's pattern) are removed, so that upgrades do not
pile up stale files in the cache folder.
"""

from __future__ import annotations

import logging
import mmap
import os
import pickle
import shutil
import struct
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar, cast

import numpy as np
from numpy.typing import NDArray

__all__ = ["load_arrays", "load_or_build", "remove_superseded", "save_arrays"]

log = logging.getLogger(__name__)

T = TypeVar("T")


def load_or_build(
    path: Path | None, build: Callable[[], T], *, mapped: bool = False, supersedes: str | None = None
) -> T:
    """Return the object pickled at ``path``, or build it, write it there (atomically) and return it.

    ``path`` None means no cache: just build. ``mapped``: the object's numpy arrays are
    memory-mapped from the file, read-only and shared by every process that loads it (for
    large indexes that are only read; loading costs no copy). ``supersedes``: a glob, in
    ``path``'s folder, of the files this one replaces, removed once it is written.

    Parameters
    ----------
    path
        The cache file, or None for no cache (just build).
    build
        Builds the object when the file is absent or unreadable.
    mapped
        Memory-map the object's numpy arrays from the file (read-only, shared by processes).
    supersedes
        A glob, in ``path``'s folder, of the files this one replaces (removed once it is written).
    """
    if path is None:
        return build()
    if path.is_file():
        try:
            if mapped:
                return cast("T", _load_mapped(path))
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
            if mapped:
                _dump_mapped(obj, fh)
            else:
                pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    except OSError as exc:
        log.info("cache %s not written (%s); it is rebuilt on the next start", path, exc)
        return obj
    if supersedes is not None:
        remove_superseded(path, supersedes)
    return obj


def remove_superseded(path: Path, pattern: str) -> None:
    """Remove the files and folders matching ``pattern`` beside ``path``, except ``path`` itself.

    A process of an older version that still has one open keeps reading it (the file goes
    when it is closed); one that starts later builds its own again.

    Parameters
    ----------
    path
        The file that supersedes the others.
    pattern
        A glob of the superseded files, in ``path``'s folder.
    """
    for old in path.parent.glob(pattern):
        if old == path or old.name.endswith((".tmp", ".partial")):  # another process is writing it
            continue
        try:
            if old.is_dir():
                shutil.rmtree(old)
            else:
                old.unlink()
            log.info("removed %s (superseded by %s)", old.name, path.name)
        except OSError as exc:
            log.info("could not remove %s (%s)", old, exc)


def save_arrays(folder: Path, arrays: dict[str, NDArray[Any]], *, version: str) -> None:
    """Write named arrays as ``.npy`` files into ``folder``, replaced whole and atomically.

    Parameters
    ----------
    folder
        The folder to (re)write; several processes may build it at once (the last rename wins).
    arrays
        Plain numpy arrays by name (no object arrays).
    version
        The version of the code that built them, written beside them and checked by `load_arrays`.
    """
    tmp = folder.with_name(f"{folder.name}.{os.getpid()}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        for name, arr in arrays.items():
            np.save(tmp / f"{name}.npy", arr, allow_pickle=False)
        (tmp / "VERSION").write_text(version, encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    except OSError as exc:
        # Another process wrote it first, or the cache folder is read-only: the caller
        # works from the arrays in memory either way.
        log.info("cache %s not written (%s); it is rebuilt on the next start", folder, exc)
        shutil.rmtree(tmp, ignore_errors=True)


def load_arrays(folder: Path, *, version: str) -> dict[str, NDArray[Any]] | None:
    """Return the arrays saved by `save_arrays`, memory-mapped (shared between processes).

    Parameters
    ----------
    folder
        The folder `save_arrays` wrote.
    version
        The version the arrays must have been built by.

    Returns
    -------
    dict or None
        The arrays by name, or None when the folder is absent, unreadable or of another version.
    """
    stamp = folder / "VERSION"
    try:
        if not stamp.is_file() or stamp.read_text(encoding="utf-8") != version:
            return None
        return {f.stem: np.load(f, mmap_mode="r", allow_pickle=False) for f in folder.glob("*.npy")}
    except (OSError, ValueError) as exc:
        log.warning("cache %s is unreadable (%s); rebuilding", folder, exc)
        return None


# A mapped file: the pickle with its large buffers (numpy arrays) kept out of band, each
# 64-byte aligned after it, so that loading maps them instead of copying them:
# magic, data length, buffer count, (offset, length) per buffer, the pickle, the buffers.
_MAGIC = b"VPMAP01\n"
_ALIGN = 64


def _dump_mapped(obj: object, fh: IO[bytes]) -> None:
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    raws = [b.raw() for b in buffers]
    head = len(_MAGIC) + 16 + 16 * len(raws)
    pos = head + len(data)
    spans = []
    for raw in raws:
        pos += -pos % _ALIGN
        spans.append((pos, raw.nbytes))
        pos += raw.nbytes
    fh.write(_MAGIC + struct.pack("<QQ", len(data), len(raws)))
    for off, n in spans:
        fh.write(struct.pack("<QQ", off, n))
    fh.write(data)
    written = head + len(data)
    for (off, _), raw in zip(spans, raws, strict=True):
        fh.write(b"\0" * (off - written))
        fh.write(raw)
        written = off + raw.nbytes


def _load_mapped(path: Path) -> object:
    with path.open("rb") as fh:
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    view = memoryview(mm)
    if bytes(view[: len(_MAGIC)]) != _MAGIC:
        raise ValueError("not a mapped cache file")
    n_data, n_buf = struct.unpack_from("<QQ", view, len(_MAGIC))
    spans = [struct.unpack_from("<QQ", view, len(_MAGIC) + 16 + 16 * i) for i in range(n_buf)]
    head = len(_MAGIC) + 16 + 16 * n_buf
    if head + n_data > len(view) or any(off + n > len(view) for off, n in spans):
        raise ValueError("truncated mapped cache file")
    return pickle.loads(view[head : head + n_data], buffers=[view[off : off + n] for off, n in spans])
