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
