"""The offline basemap archive (``seeds/basemap.pmtiles``): its tiles read by byte range, never whole.

The header is read once; the root directory once; leaf directories as they are needed
(kept, they are small); each tile is one `os.pread` of its bytes, as stored (gzip).
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pmtiles.tile import Compression, deserialize_directory, deserialize_header, find_tile, zxy_to_tileid

from geo.errors import DataSourceError, NotFoundError
from geo.tiles import tile_bounds_m, tile_range, to_mercator

__all__ = ["BASEMAP_FILE", "MAX_ZOOM", "MIN_ZOOM", "BasemapArchive", "basemap_archive"]

BASEMAP_FILE = "basemap.pmtiles"  # in the seeds folder
MIN_ZOOM, MAX_ZOOM = 6, 14  # the zooms the archive holds; pages draw deeper zooms from the last


@dataclass(frozen=True)
class _Info:
    min_zoom: int
    max_zoom: int
    bounds: tuple[float, float, float, float]  # lon/lat
    metadata: dict[str, Any]


class BasemapArchive:
    """A PMTiles archive of vector tiles, read by byte ranges.

    Parameters
    ----------
    path
        The archive.
    """

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise DataSourceError(
                f"the offline basemap {path.name} is missing from the seeds; rebuild it with "
                "`venue-planner seeds basemap`."
            )
        self.path = path
        self._fd = os.open(path, os.O_RDONLY)
        self._leaves: dict[tuple[int, int], list[Any]] = {}
        self._lock = threading.Lock()
        self.header = deserialize_header(self._read(0, 127))
        self._root = deserialize_directory(self._read(self.header["root_offset"], self.header["root_length"]))
        raw = self._read(self.header["metadata_offset"], self.header["metadata_length"])
        if self.header["internal_compression"] == Compression.GZIP:
            raw = gzip.decompress(raw)
        h = self.header
        self.info = _Info(
            h["min_zoom"],
            h["max_zoom"],
            (h["min_lon_e7"] / 1e7, h["min_lat_e7"] / 1e7, h["max_lon_e7"] / 1e7, h["max_lat_e7"] / 1e7),
            json.loads(raw),
        )
        b = self.info.bounds
        m = to_mercator(np.array([b[0], b[2]]), np.array([b[1], b[3]]))
        self._bounds_m = (float(m[0, 0]), float(m[0, 1]), float(m[1, 0]), float(m[1, 1]))

    def _read(self, offset: int, length: int) -> bytes:
        return os.pread(self._fd, length, offset)

    def covers(self, z: int, x: int, y: int) -> bool:
        """Return whether a tile lies within the archive's zooms and bounds.

        Parameters
        ----------
        z, x, y
            The tile.
        """
        if not self.info.min_zoom <= z <= self.info.max_zoom:
            return False
        tile_bounds_m(z, x, y)  # refuses a tile that does not exist at its zoom
        x0, y0, x1, y1 = tile_range(self._bounds_m, z)
        return x0 <= x <= x1 and y0 <= y <= y1

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """Return a tile as stored (gzip-compressed MVT), or None for an empty tile inside the archive's bounds.

        Parameters
        ----------
        z, x, y
            The tile (XYZ scheme).
        """
        if not self.covers(z, x, y):
            b = self.info.bounds
            raise NotFoundError(
                f"no basemap tile {z}/{x}/{y}: the basemap covers zooms {self.info.min_zoom}-{self.info.max_zoom} "
                f"within {b[0]:.3f}-{b[2]:.3f} E, {b[1]:.3f}-{b[3]:.3f} N (Beijing); the pages draw deeper zooms "
                "from the last one."
            )
        tid = zxy_to_tileid(z, x, y)
        h = self.header
        entries, leaf_base = self._root, h["leaf_directory_offset"]
        for _ in range(4):  # the PMTiles specification's deepest directory
            e = find_tile(entries, tid)
            if e is None:
                return None
            if e.run_length > 0:
                return self._read(h["tile_data_offset"] + e.offset, e.length)
            key = (leaf_base + e.offset, e.length)
            with self._lock:
                leaf = self._leaves.get(key)
            if leaf is None:
                leaf = deserialize_directory(self._read(*key))
                with self._lock:
                    self._leaves[key] = leaf
            entries = leaf
        return None


@functools.cache
def basemap_archive(path: Path) -> BasemapArchive:
    """Return the archive at ``path``, opened once per process.

    Parameters
    ----------
    path
        The archive.
    """
    return BasemapArchive(path)
