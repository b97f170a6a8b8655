"""Settings, read from ``VENUE_PLANNER_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["REPO_ROOT", "Settings"]

REPO_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """Where the data lives and how the service runs."""

    model_config = SettingsConfigDict(env_prefix="VENUE_PLANNER_")

    seeds_dir: Path = Field(REPO_ROOT / "seeds", description="The shipped data folder.")
    data_dir: Path = Field(
        Path.home() / ".local" / "share" / "venue-planner", description="Imported networks, proposals."
    )
    cache_dir: Path = Field(Path.home() / ".cache" / "venue-planner", description="Built road graphs.")
    host: str = "127.0.0.1"
    port: int = 8000
    site_access_max_m: float = Field(300.0, description="Largest gap between a site boundary and its access road.")
    preload_networks: bool = Field(True, description="Load the road networks when the service starts.")
    allowed_hosts: list[str] = Field(
        ["localhost", "127.0.0.1", "[::1]"],
        description="Host names the service answers to (JSON list; add your server's name; '*' allows any).",
    )
    cors_origins: list[str] = Field(
        [], description="Origins whose pages may call the API from a browser (JSON list; default none)."
    )
    require_key_for_reads: bool = Field(False, description="Reads need an API key too (writes always do).")
    max_body_bytes: int = Field(5_000_000, ge=1_000, description="Largest request body (not uploads), bytes.")
    max_upload_bytes: int = Field(20_000_000, ge=1_000, description="Largest upload (proposal imports), bytes.")
    compute_timeout_s: float = Field(10.0, gt=0, le=600, description="Time budget of one compute request, seconds.")
    compute_workers: int = Field(
        2, ge=0, le=64, description="Worker processes for compute requests (0: run in the server, no time budget)."
    )
