"""GeoTIFF downloads in another coordinate system: a raster warped cell by cell, its values kept."""

from __future__ import annotations

import warnings

import numpy as np
import rasterio
from rasterio.warp import Resampling, calculate_default_transform, reproject

__all__ = ["warp_tif"]


def warp_tif(data: bytes, epsg: int) -> bytes:
    """Return a GeoTIFF warped to ``epsg`` by nearest neighbour (values are counts or minutes: none invented).

    The cell size follows rasterio's default for the target CRS (about the source's);
    nodata stays nodata, and the file records its CRS and any tags of the source.

    Parameters
    ----------
    data
        The GeoTIFF's bytes.
    epsg
        The EPSG code of the target CRS.
    """
    with rasterio.MemoryFile(data) as src_mem, src_mem.open() as src:
        with warnings.catch_warnings():  # rasterio 1.4 multiplies affines with `*`, which affine 3 warns of
            warnings.filterwarnings("ignore", message="Use `@` matmul", category=PendingDeprecationWarning)
            transform, width, height = calculate_default_transform(
                src.crs, f"EPSG:{epsg}", src.width, src.height, *src.bounds
            )
        profile = src.profile.copy()
        nodata = src.nodata if src.nodata is not None else (np.nan if np.dtype(src.dtypes[0]).kind == "f" else 0)
        profile.update(crs=f"EPSG:{epsg}", transform=transform, width=width, height=height, nodata=nodata)
        profile.pop("blockxsize", None)
        profile.pop("blockysize", None)
        profile.pop("tiled", None)
        with rasterio.MemoryFile() as out_mem:
            with out_mem.open(**profile) as dst:
                dst.update_tags(**src.tags())
                for band in range(1, src.count + 1):
                    out = np.full((height, width), nodata, dtype=src.dtypes[band - 1])
                    reproject(
                        rasterio.band(src, band),
                        out,
                        dst_transform=transform,
                        dst_crs=f"EPSG:{epsg}",
                        dst_nodata=nodata,
                        resampling=Resampling.nearest,
                    )
                    dst.write(out, band)
            return bytes(out_mem.read())
