"""seeds/elevation_haidian_srtm30.tif: the Haidian SRTM clip."""

from __future__ import annotations

from pathlib import Path

import rasterio
import rasterio.features

from geo.errors import DataSourceError
from layers.seedbuild.common import (
    SeedReport,
)


def build_elevation(folder: Path, out_dir: Path, report: SeedReport) -> None:
    """Copy the Haidian SRTM clip as a compressed GeoTIFF with its provenance in tags.

    Parameters
    ----------
    folder
        The raw data folder of this item.
    out_dir
        The seeds folder to write to.
    report
        The seed build's report, where the file's provenance is recorded.
    """
    src = folder / "THU_srtm_haidian_30m.tif"
    if not src.is_file():
        raise DataSourceError(f"{src} is missing.")
    with rasterio.open(src) as ds:
        data = ds.read(1)
        profile = ds.profile.copy()
        bounds = ds.bounds
    profile.update(compress="deflate", predictor=2, driver="GTiff")
    dst_path = out_dir / "elevation_haidian_srtm30.tif"
    with rasterio.open(dst_path, "w", **profile) as dst:
        dst.write(data, 1)
        dst.update_tags(SOURCE="NASA SRTM 1 arc-second, clip from LllC-mmd/3DBuildingInfoMap @08c28137", UNITS="metres")
    report.files["elevation_haidian_srtm30.tif"] = {
        "title": "Elevation (SRTM 30 m), Haidian only",
        "source": "LllC-mmd/3DBuildingInfoMap @08c28137 src/shafts/testCase/infer_test_THU/raw_data/THU_srtm.tif",
        "licence": "public domain (NASA SRTM), credit 'NASA SRTM'",
        "date": "SRTM 2000",
        "crs": "EPSG:4326",
        "bbox": [round(v, 6) for v in (bounds.left, bounds.bottom, bounds.right, bounds.top)],
        "derivation": f"unchanged values ({data.min()}..{data.max()} m), recompressed. Covers Yuanmingyuan and the "
        "east edge of the Summer Palace only; no elevation elsewhere.",
    }
