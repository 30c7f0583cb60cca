"""Settings come from the environment only, and the README documents every one of them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from order_agent.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_settings_read_the_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db.internal:5432/orders")
    monkeypatch.setenv("db_pool_max", "9")
    settings = Settings()
    assert settings.database_url == "postgresql://app@db.internal:5432/orders"
    assert settings.db_pool_max == 9


def test_invalid_settings_fail_loudly(monkeypatch):
    monkeypatch.setenv("DB_POOL_MAX", "0")
    with pytest.raises(ValidationError, match="db_pool_max"):
        Settings()


def test_readme_documents_every_setting_with_its_default():
    rows = dict(re.findall(r"^\| `([A-Z0-9_]+)` \| ([^|]+) \|", README.read_text(), flags=re.MULTILINE))
    fields = Settings.model_fields
    assert set(rows) == {name.upper() for name in fields}
    for name, field in fields.items():
        documented = rows[name.upper()].strip().strip("`")
        default = field.default
        if default is None:
            assert documented == "unset"
        elif isinstance(default, Path):
            assert Path(documented).expanduser() == default
        else:
            assert documented == str(default), name


def test_readme_states_the_two_commands():
    text = README.read_text()
    assert "make dev" in text and "make test" in text
