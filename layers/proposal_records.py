"""What a proposal's properties and an imported proposal record must hold, and the import readers.

Every write, from the API or from a file, goes through these checks (the stores in
`layers.proposals` call them): bounded text, finite numbers, known attributes, timestamps,
and files of a bounded size in GeoJSON (WGS84) or GeoPackage.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import shapely

from geo.crs import OFFERED_EPSG, WGS84_EPSG, check_fits, parse_crs, transform_geometries
from geo.errors import CRSError, InvalidInputError
from geo.limits import LIMITS, Limits

if TYPE_CHECKING:
    pass

__all__ = [
    "FLOORS_RANGE",
    "HEIGHT_RANGE_M",
    "check_id",
    "check_properties",
    "check_record",
    "no_constants",
    "read_geojson",
    "read_gpkg",
]

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def check_id(pid: object) -> str:
    """Return a proposal id, or raise if it is not 1-63 lower-case letters, digits and dashes.

    Parameters
    ----------
    pid
        An id to check.
    """
    if not isinstance(pid, str) or not _ID_RE.fullmatch(pid):
        raise InvalidInputError(f"`id` {pid!r} must be lower-case letters, digits and dashes (at most 63).")
    return pid


# Attribute rules of a proposal, the same for an API write and an import.
FLOORS_RANGE = (0, 100)  # storeys above ground; below ground is `underground`
HEIGHT_RANGE_M = (0.0, 500.0)


def no_constants(name: str) -> float:
    """Refuse NaN and Infinity in JSON (a ``parse_constant`` hook).

    Parameters
    ----------
    name
        The constant JSON met (NaN, Infinity).
    """
    raise ValueError(f"{name} is not allowed in JSON")


def _missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def check_properties(props: object, *, where: str = "properties", limits: Limits = LIMITS) -> dict[str, Any]:
    """Return a proposal's attributes checked (use, floors, height_m, underground), or raise.

    Parameters
    ----------
    props
        The attributes as sent.
    where
        Where the value came from, for error messages.
    limits
        The request limits in force (`geo.limits.Limits`).
    """
    if not isinstance(props, dict):
        raise InvalidInputError(f"`{where}` must be a JSON object; got {type(props).__name__}.")
    unknown = set(props) - {"use", "floors", "height_m", "underground"}
    if unknown:
        raise InvalidInputError(
            f"`{where}` has unknown fields {sorted(unknown)}; allowed: use, floors, height_m, underground."
        )
    use, floors, height, under = (props.get(k) for k in ("use", "floors", "height_m", "underground"))
    if use is not None and (not isinstance(use, str) or len(use) > limits.max_use_chars):
        raise InvalidInputError(f"`{where}.use` must be text of at most {limits.max_use_chars} characters.")
    if floors is not None and (
        isinstance(floors, bool) or not isinstance(floors, int) or not FLOORS_RANGE[0] <= floors <= FLOORS_RANGE[1]
    ):
        raise InvalidInputError(f"`{where}.floors` must be a whole number in {FLOORS_RANGE[0]}..{FLOORS_RANGE[1]}.")
    if height is not None and (
        isinstance(height, bool)
        or not isinstance(height, int | float)
        or not HEIGHT_RANGE_M[0] <= float(height) <= HEIGHT_RANGE_M[1]
    ):
        raise InvalidInputError(f"`{where}.height_m` must be a number in {HEIGHT_RANGE_M[0]:g}..{HEIGHT_RANGE_M[1]:g}.")
    if under is not None and not isinstance(under, bool):
        raise InvalidInputError(f"`{where}.underground` must be true or false.")
    return dict(props)


def _text(v: object, field: str, row: int, *, limit: int, required: bool = False) -> str | None:
    if _missing(v) or v == "":
        if required:
            raise InvalidInputError(f"record {row}: `{field}` is missing.")
        return None
    if not isinstance(v, str) or len(v) > limit:
        raise InvalidInputError(f"record {row}: `{field}` must be text of at most {limit} characters.")
    return v


def _stamp(v: object, field: str, row: int) -> str:
    text = _text(v, field, row, limit=40, required=True)
    assert text is not None
    try:
        dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInputError(f"record {row}: `{field}` {text!r} is not an ISO 8601 time.") from exc
    return text


def check_record(r: dict[str, Any], geometry: object, row: int, *, limits: Limits = LIMITS) -> dict[str, Any]:
    """Check one imported version as an API write is checked; return it in the store's form.

    Parameters
    ----------
    r
        The record's attributes.
    geometry
        The record's geometry (GeoJSON or shapely).
    row
        The record's number, for error messages.
    limits
        The request limits in force (`geo.limits.Limits`).
    """
    from geo.footprints import parse_footprint

    pid = check_id(r.get("id"))
    version = r.get("version")
    if isinstance(version, float) and version.is_integer():
        version = int(version)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidInputError(f"record {row}: `version` must be a whole number from 1; got {version!r}.")
    name = _text(r.get("name"), "name", row, limit=limits.max_name_chars, required=True)
    assert name is not None
    if not name.strip():
        raise InvalidInputError(f"record {row}: `name` is blank.")
    site_id = _text(r.get("site_id"), "site_id", row, limit=100)
    note = _text(r.get("note"), "note", row, limit=limits.max_note_chars)
    author = _text(r.get("author"), "author", row, limit=64)
    out: dict[str, Any] = {"id": pid, "version": version, "name": name, "site_id": site_id, "note": note}
    out["author"] = author
    out["created_at"] = _stamp(r.get("created_at"), "created_at", row)
    out["version_created_at"] = _stamp(r.get("version_created_at"), "version_created_at", row)
    for field in ("properties", "analysis"):
        raw = r.get(field)
        try:
            value = json.loads(raw, parse_constant=no_constants) if isinstance(raw, str) else raw
        except ValueError as exc:
            raise InvalidInputError(f"record {row}: `{field}` is not JSON: {exc}.") from exc
        if not isinstance(value, dict):
            raise InvalidInputError(f"record {row}: `{field}` must be a JSON object; got {type(value).__name__}.")
        out[field] = value
    out["properties"] = check_properties(out["properties"], where=f"record {row}: properties", limits=limits)
    if len(json.dumps(out["analysis"])) > 1_000_000:
        raise InvalidInputError(f"record {row}: `analysis` is larger than 1 MB.")
    doc = geometry
    if isinstance(doc, dict) and r.get("geometry_type") == "Polygon" and doc.get("type") == "MultiPolygon":
        coords = doc.get("coordinates")
        if isinstance(coords, list | tuple) and len(coords) == 1:  # a GeoPackage's promotion, undone
            doc = {"type": "Polygon", "coordinates": coords[0]}
    out["geometry"] = parse_footprint(
        doc,
        label=f"record {row}: geometry",
        max_vertices=limits.max_footprint_vertices,
        max_area_m2=limits.max_footprint_area_m2,
    ).geometry
    return out


def read_gpkg(path: Path, name: str, *, limits: Limits = LIMITS) -> gpd.GeoDataFrame:
    """Read a GeoPackage of proposal versions (one layer, bounded), naming it ``name`` in errors.

    Parameters
    ----------
    path
        The uploaded file.
    name
        How the file is named in errors.
    limits
        The request limits in force (`geo.limits.Limits`).
    """
    import pyogrio

    try:
        info = pyogrio.read_info(path)
        if info.get("driver") != "GPKG":
            raise InvalidInputError(f"{name} is not a GeoPackage.")
        layers = pyogrio.list_layers(path)
        if len(layers) != 1:
            raise InvalidInputError(f"{name} must hold one layer of proposals; it holds {len(layers)}.")
        if int(info.get("features", 0)) > limits.max_import_versions:
            raise InvalidInputError(f"{name} holds more than {limits.max_import_versions:,} versions; split it.")
        frame = pyogrio.read_dataframe(path, datetime_as_string=True)
    except InvalidInputError:
        raise
    except Exception as exc:  # GDAL's messages name the server's temporary path: leave them out
        raise InvalidInputError(f"{name} could not be read as a GeoPackage ({type(exc).__name__}).") from exc
    return _to_wgs84(frame, None if frame.crs is None else frame.crs.to_epsg(), name)


def _to_wgs84(frame: gpd.GeoDataFrame, epsg: int | None, name: str) -> gpd.GeoDataFrame:
    """Return an imported frame in WGS84: from one of the offered CRSs (checked to fit it), else refused.

    Parameters
    ----------
    frame
        The frame as read.
    epsg
        Its CRS (None: none declared, taken as WGS84).
    name
        How the file is named in errors.
    """
    if epsg in (None, WGS84_EPSG) or frame.empty:
        return frame
    if epsg not in OFFERED_EPSG:
        offered = ", ".join(f"EPSG:{c}" for c in OFFERED_EPSG)
        raise InvalidInputError(f"{name} is in EPSG:{epsg}; imports take {offered} (or CRS84).")
    xy = frame.geometry.get_coordinates()
    check_fits(xy["x"].to_numpy(), xy["y"].to_numpy(), epsg, label=name)
    out = frame.copy()
    out.geometry = transform_geometries(frame.geometry.to_numpy(), source=epsg, target=None)
    return out.set_crs(WGS84_EPSG, allow_override=True)


def read_geojson(path: Path, name: str, *, limits: Limits = LIMITS) -> gpd.GeoDataFrame:
    """Read a GeoJSON FeatureCollection of proposal versions (WGS84, bounded) as a frame.

    Parameters
    ----------
    path
        The uploaded file.
    name
        How the file is named in errors.
    limits
        The request limits in force (`geo.limits.Limits`).
    """
    try:
        doc = json.loads(path.read_bytes(), parse_constant=no_constants)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{name} is not valid JSON: {exc}.") from exc
    except RecursionError:
        raise InvalidInputError(
            f"{name} is JSON nested deeper than this service parses; nothing was imported."
        ) from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(doc.get("features"), list):
        raise InvalidInputError(f"{name} must be a GeoJSON FeatureCollection.")
    epsg = _declared_crs(doc.get("crs"), name)
    feats = doc["features"]
    if len(feats) > limits.max_import_versions:
        raise InvalidInputError(f"{name} holds more than {limits.max_import_versions:,} versions; split it.")
    rows, geoms = [], []
    for n, f in enumerate(feats):
        if not isinstance(f, dict) or not isinstance(f.get("properties"), dict):
            raise InvalidInputError(f"{name}: feature {n} is not a GeoJSON Feature with properties.")
        rows.append(f["properties"])
        geoms.append(_geometry_to_wgs84(f.get("geometry"), epsg, f"{name}: feature {n}"))
    frame = gpd.GeoDataFrame(rows)
    frame["__geometry"] = geoms
    return frame


def _declared_crs(crs: object, name: str) -> int | None:
    """Return the EPSG code a GeoJSON file's (pre-RFC 7946) ``crs`` member names, None for WGS84; refuse others.

    GDAL writes ``{"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4548"}}`` for a
    file in another CRS, with coordinates easting first.

    Parameters
    ----------
    crs
        The member, or None.
    name
        How the file is named in errors.
    """
    if crs is None:
        return None
    text = json.dumps(crs)
    if "CRS84" in text:
        return None
    label = crs.get("properties", {}).get("name") if isinstance(crs, dict) else None
    if not isinstance(label, str):
        raise InvalidInputError(f"{name}: its `crs` member must name a CRS (type name); got {text[:100]}.")
    code = label.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    if code == "4326":
        return None
    try:
        return parse_crs(f"EPSG:{code}", label=f"{name}: crs")
    except CRSError as exc:
        raise InvalidInputError(str(exc)) from exc


def _geometry_to_wgs84(doc: object, epsg: int | None, where: str) -> object:
    """Return a GeoJSON geometry (a dict) transformed from ``epsg`` to WGS84 (checked to fit it); as is for WGS84.

    Parameters
    ----------
    doc
        The feature's geometry.
    epsg
        The file's CRS, or None for WGS84.
    where
        How the feature is named in errors.
    """
    if epsg is None or not isinstance(doc, dict):
        return doc
    try:
        geom = shapely.geometry.shape(doc)
    except (ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
        raise InvalidInputError(f"{where}: the geometry is not well-formed GeoJSON: {exc}.") from exc
    xy = shapely.get_coordinates(geom)
    check_fits(xy[:, 0], xy[:, 1], epsg, label=where)
    return shapely.geometry.mapping(transform_geometries(np.array([geom], dtype=object), source=epsg, target=None)[0])
