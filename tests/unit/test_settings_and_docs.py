"""Settings come from the environment only, docs/settings.md documents every one of them, and the
README states the two commands and links only to files that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from order_agent.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SETTINGS_DOC = ROOT / "docs" / "settings.md"


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


def test_the_settings_document_lists_every_setting_with_its_default():
    rows = dict(re.findall(r"^\| `([A-Z0-9_]+)` \| ([^|]+) \|", SETTINGS_DOC.read_text(), flags=re.MULTILINE))
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


@pytest.mark.parametrize("document", [README, *sorted((ROOT / "docs").glob("*.md"))], ids=lambda path: path.name)
def test_relative_links_point_at_files_and_headings_that_exist(document):
    """A link in the README or docs/ to another file of the repository (and its #heading) resolves."""
    for target in re.findall(r"\]\(([^)\s]+)\)", document.read_text()):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto: ...
        path, _, anchor = target.partition("#")
        linked = (document.parent / path).resolve() if path else document
        assert linked.exists(), f"{document.name}: {target}"
        if anchor and linked.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", linked.read_text(), flags=re.MULTILINE)
            slugs = {re.sub(r"[^a-z0-9 _-]", "", heading.lower()).replace(" ", "-") for heading in headings}
            assert anchor in slugs, f"{document.name}: {target}"
