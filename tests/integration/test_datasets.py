"""Data sets: the τ-bench retail set from the PyPI wheel (verified), the demo fixture, exact round trips."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import pytest

from order_agent.db.dataset import (
    TAU_RETAIL_DB,
    DatasetError,
    canonical_json,
    count_dataset,
    export_dataset,
    load_dataset,
    read_dataset,
    tau2_wheel,
)
from order_agent.settings import Settings


def test_demo_round_trip_is_exact(demo_db):
    original = read_dataset("demo")
    assert canonical_json(export_dataset(demo_db)) == canonical_json(original)
    # and the dictionaries keep their order too, not only their content
    exported = export_dataset(demo_db)
    assert list(exported["users"]) == list(original["users"])
    assert list(exported["products"]["8000000001"]["variants"]) == list(original["products"]["8000000001"]["variants"])


def test_tau_retail_loads_the_published_counts_and_round_trips_exactly(tau_fresh, tau_settings):
    tau_db = tau_fresh  # as loaded, whatever earlier tests changed
    assert str(count_dataset(tau_db)) == "users=500 orders=1000 products=50"
    original = read_dataset("tau-retail", tau_settings)
    assert canonical_json(export_dataset(tau_db)) == canonical_json(original)


def test_a_user_whose_order_list_disagrees_with_the_orders_is_refused(demo_db):
    data = read_dataset("demo")
    data["users"]["ana_lima_1001"]["orders"].reverse()
    with pytest.raises(DatasetError, match="ana_lima_1001"):
        load_dataset(demo_db, data)


def test_unknown_dataset_is_a_clear_error():
    with pytest.raises(DatasetError, match="unknown data set 'nope'"):
        read_dataset("nope")


def _cli(*args, database_url, **env):
    environment = {**os.environ, "DATABASE_URL": database_url, **env}
    return subprocess.run(
        [sys.executable, "-m", "order_agent_dev.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )


def test_cli_reset_prints_the_counts_and_export_reproduces_the_input(scratch_database, tmp_path):
    url = scratch_database()
    done = _cli("db", "reset", "--dataset", "tau-retail", database_url=url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "users=500 orders=1000 products=50"
    out = tmp_path / "export.json"
    assert _cli("db", "export", "--output", str(out), database_url=url).returncode == 0
    original = read_dataset("tau-retail")
    assert canonical_json(json.loads(out.read_text())) == canonical_json(original)
    again = _cli("db", "migrate", database_url=url)
    assert again.stdout.strip() == "migrations: nothing to apply"


def test_a_tampered_data_file_is_refused_before_anything_is_dropped(scratch_database, tmp_path):
    url = scratch_database()
    assert _cli("db", "reset", "--dataset", "demo", database_url=url).returncode == 0
    genuine = tau2_wheel()
    tampered = tmp_path / genuine.name
    with zipfile.ZipFile(genuine) as source, zipfile.ZipFile(tampered, "w") as target:
        for entry in source.infolist():
            data = source.read(entry)
            if entry.filename == TAU_RETAIL_DB.path:
                data = data.replace(b'"balance": 1', b'"balance": 9', 1)
            target.writestr(entry, data)
    done = _cli("db", "reset", "--dataset", "tau-retail", database_url=url, TAU2_WHEEL_PATH=str(tampered))
    assert done.returncode == 2
    assert "SHA-256" in done.stderr and "refusing to load it" in done.stderr
    # the demo data is still there
    assert len(json.loads(_cli("db", "export", database_url=url).stdout)["orders"]) == 7


def test_the_wheel_is_downloaded_when_not_cached(tmp_path):
    settings = Settings(dataset_cache_dir=tmp_path)
    wheel = tau2_wheel(settings)
    assert wheel.parent == tmp_path and wheel.is_file()
