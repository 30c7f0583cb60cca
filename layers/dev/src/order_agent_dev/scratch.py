"""Throw-away databases on a server: for tests and for harnesses that must not touch real data."""

from __future__ import annotations

import secrets

import psycopg2
import psycopg2.extensions


def with_database(url: str, dbname: str) -> str:
    """The same server, another database."""
    return psycopg2.extensions.make_dsn(url, dbname=dbname)


def create_scratch_database(url: str, prefix: str = "order_agent_test") -> str:
    """Create an empty database on the server at `url`; returns its connection string."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    conn = psycopg2.connect(url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')  # name is generated above, not user input
    finally:
        conn.close()
    return with_database(url, name)


def drop_database(url: str) -> None:
    """Drop the database `url` names, connecting to the server's `postgres` database to do it."""
    name = psycopg2.extensions.parse_dsn(url)["dbname"]
    conn = psycopg2.connect(with_database(url, "postgres"))
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        conn.close()
