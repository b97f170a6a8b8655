"""Settings, read from ``VENUE_PLANNER_*`` environment variables, grouped by concern.

As tipg groups its settings (one class per concern), there are three groups: where the
data lives (`StoreSettings`), how the service runs (`ServerSettings`) and what one request
may ask for (`LimitSettings`). `Settings` is all three; each variable keeps its name
``VENUE_PLANNER_<FIELD>``. The manual's table of variables (docs/operators/configuration.md) is generated from these classes
(`settings_table`) and a test keeps it current.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from geo.limits import Limits, limit_docs

__all__ = ["REPO_ROOT", "LimitSettings", "ServerSettings", "Settings", "StoreSettings", "settings_table"]

REPO_ROOT = Path(__file__).resolve().parents[1]
_CONFIG = SettingsConfigDict(env_prefix="VENUE_PLANNER_")


class StoreSettings(BaseSettings):
    """Where the data lives."""

    model_config = _CONFIG

    seeds_dir: Path = Field(REPO_ROOT / "seeds", description="The shipped data folder.")
    data_dir: Path = Field(
        Path.home() / ".local" / "share" / "venue-planner",
        description="Imported networks, proposals, closure plans, API keys.",
    )
    cache_dir: Path = Field(Path.home() / ".cache" / "venue-planner", description="Built road graphs and indexes.")
    database_url: str | None = Field(
        None,
        description="postgresql://user:password@host/db: keep proposals, plans, keys and imported networks in a "
        "shared PostgreSQL/PostGIS (several hosts); unset: SQLite files in the data folder.",
    )
    database_pool_size: int = Field(8, ge=1, le=100, description="Most database connections one process holds.")
    database_timeout_s: float = Field(
        5.0, gt=0, le=60, description="Wait for a database connection at most this long, seconds (then 503)."
    )


class ServerSettings(BaseSettings):
    """How the service runs."""

    model_config = _CONFIG

    host: str = Field("127.0.0.1", description="Address `venue-planner serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `venue-planner serve` listens on.")
    preload_networks: bool = Field(True, description="Load the road networks when the service starts.")
    allowed_hosts: list[str] = Field(
        ["localhost", "127.0.0.1", "[::1]"],
        description="Host names the service answers to (JSON list; add your server's name; '*' allows any).",
    )
    cors_origins: list[str] = Field(
        [], description="Origins whose pages may call the API from a browser (JSON list; default none)."
    )
    access_log: bool = Field(
        False, description="Log every request to stderr (off: the load balancer in front logs them; it costs 5 %)."
    )
    require_key_for_reads: bool = Field(False, description="Reads need an API key too (writes always do).")
    compute_timeout_s: float = Field(10.0, gt=0, le=600, description="Time budget of one compute request, seconds.")
    compute_workers: int = Field(
        2, ge=0, le=64, description="Worker processes for compute requests (0: run in the server, no time budget)."
    )
    max_waiting: int = Field(
        256,
        ge=1,
        le=100_000,
        description="Compute requests that may wait for a worker at once (more wait for a thread).",
    )
    site_access_max_m: float = Field(
        300.0, gt=0, le=5_000, description="Largest gap between a site boundary and its access road, metres."
    )


def _limit_field(name: str) -> Any:  # noqa: ANN401 - a pydantic field, typed by its annotation
    default, doc = limit_docs()[name]
    return Field(default, gt=0, le=default, description=f"{doc} (may be lowered, not raised)")


class LimitSettings(BaseSettings):
    """What one request may ask for.

    The defaults of the `geo.limits` limits are also their ceilings (the request schemas'
    bounds): a deployment may lower such a limit, not raise it.
    """

    model_config = _CONFIG

    max_body_bytes: int = Field(5_000_000, ge=1_000, description="Largest request body (not uploads), bytes.")
    max_upload_bytes: int = Field(20_000_000, ge=1_000, description="Largest upload (proposal imports), bytes.")
    max_minutes: float = _limit_field("max_minutes")
    max_metres: float = _limit_field("max_metres")
    max_bands: int = _limit_field("max_bands")
    max_footprint_vertices: int = _limit_field("max_footprint_vertices")
    max_footprint_area_m2: float = _limit_field("max_footprint_area_m2")
    max_area_vertices: int = _limit_field("max_area_vertices")
    max_stops: int = _limit_field("max_stops")
    max_optimised_stops: int = _limit_field("max_optimised_stops")
    max_matrix_cells: int = _limit_field("max_matrix_cells")
    max_sites: int = _limit_field("max_sites")
    max_candidates: int = _limit_field("max_candidates")
    max_plan_entrances: int = _limit_field("max_plan_entrances")
    max_plan_file_features: int = _limit_field("max_plan_file_features")
    max_compare: int = _limit_field("max_compare")
    max_import_versions: int = _limit_field("max_import_versions")
    max_name_chars: int = _limit_field("max_name_chars")
    max_note_chars: int = _limit_field("max_note_chars")
    max_use_chars: int = _limit_field("max_use_chars")
    max_ogc_items: int = _limit_field("max_ogc_items")

    def limits(self) -> Limits:
        """Return the request limits as the value the services take.

        Returns
        -------
        Limits
            One value per field of `geo.limits.Limits`.
        """
        return Limits(**{name: getattr(self, name) for name in Limits.__dataclass_fields__})


class Settings(StoreSettings, ServerSettings, LimitSettings):
    """Every setting of the service: the store, the server and the limits."""

    model_config = _CONFIG


GROUPS: tuple[type[BaseSettings], ...] = (StoreSettings, ServerSettings, LimitSettings)


def settings_table() -> str:
    """Return the Markdown table of every environment variable, group by group, with its default.

    Returns
    -------
    str
        The table the manual's Configuration page carries between its ``settings`` markers.
    """
    lines = []
    for group in GROUPS:
        title = (group.__doc__ or "").split("\n")[0].strip().rstrip(".")
        lines += [f"**{group.__name__}**: {title}.", "", "| variable | default | meaning |", "|---|---|---|"]
        for name, f in group.model_fields.items():
            default = f.default
            if isinstance(default, Path):
                shown = str(default).replace(str(Path.home()), "~").replace(str(REPO_ROOT), "<repository>")
            elif isinstance(default, list):
                shown = "[" + ", ".join(f'"{v}"' for v in default) + "]"
            else:
                shown = f"{default:g}" if isinstance(default, float) else str(default)
            lines.append(f"| `VENUE_PLANNER_{name.upper()}` | `{shown}` | {f.description or ''} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
