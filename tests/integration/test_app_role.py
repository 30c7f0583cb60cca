"""The application role the agent's functions connect as, on the local PostgreSQL, through PgBouncer as
the functions reach RDS Proxy: it cannot change the schema or read what no tool reads, it can do what
every tool needs (test_tools.py runs every tool as that role), and its password comes from its own
secret and rotates. The role and its pooler: the `app_role` fixture (conftest.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import psycopg2
import psycopg2.errors
import pytest

from order_agent.db import credentials
from order_agent.db.credentials import RDS_CA_BUNDLE, app_credentials, url_for
from order_agent.db.migrate import available_migrations, migrate, role_timeouts
from order_agent.db.pool import Database
from order_agent.db.roles import APP_PRIVILEGES, AppRoleError, ensure_app_role
from order_agent.db.rotation import rotate
from order_agent.settings import Settings

from .support.roles import drop_role


@pytest.fixture
def app_conn(app_role, demo_db) -> Iterator[psycopg2.extensions.connection]:
    conn = psycopg2.connect(app_role.settings.database_url)
    conn.autocommit = True
    yield conn
    conn.close()


def _refused(conn, statement: str) -> None:
    with conn.cursor() as cur, pytest.raises(psycopg2.errors.InsufficientPrivilege):
        cur.execute(statement)


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE intruder (a int)",
        "CREATE TEMPORARY TABLE intruder (a int)",
        "CREATE VIEW intruder AS SELECT 1",
        "CREATE SCHEMA intruder",
        "CREATE FUNCTION intruder() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "ALTER TABLE orders ADD COLUMN intruder int",
        "ALTER TABLE users DROP CONSTRAINT users_email_check",
        "CREATE INDEX intruder ON orders (status)",
        "DROP TABLE order_payments",
        "DROP VIEW order_documents",
        "TRUNCATE tool_writes",
        "CREATE ROLE intruder",
    ],
)
def test_the_app_role_cannot_change_the_schema(app_conn, statement):
    _refused(app_conn, statement)


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM schema_migrations",
        "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'x', 'x')",
        "SELECT * FROM order_fulfillments",  # read only through order_documents
        "SELECT * FROM handoffs",  # tools append to it; no tool reads other conversations' summaries
        "UPDATE users SET email = 'attacker@example.com'",
        "UPDATE orders SET user_id = 'someone_else_0001'",
        "UPDATE order_payments SET amount = 0",
        "UPDATE variants SET price = 0",
        "UPDATE tool_writes SET session_id = 'other'",
        "DELETE FROM orders",
        "DELETE FROM tool_writes",
        "INSERT INTO users (user_id, first_name, last_name, email, address1, address2, city, country, state, zip) "
        "VALUES ('x', 'x', 'x', 'x@x.x', 'x', 'x', 'x', 'x', 'x', 'x')",
        "INSERT INTO payment_methods (payment_method_id, user_id, source, balance) VALUES ('g', 'x', 'gift_card', 1)",
    ],
)
def test_the_app_role_reads_and_writes_only_what_the_tools_need(app_conn, statement):
    _refused(app_conn, statement)


def test_the_app_role_cannot_pass_its_privileges_on(app_conn):
    with app_conn.cursor() as cur:
        cur.execute("GRANT SELECT ON orders TO PUBLIC")  # no grant option: PostgreSQL warns, grants nothing
        cur.execute("SELECT has_table_privilege('public', 'orders', 'SELECT')")
        assert cur.fetchone()[0] is False


def test_the_app_role_can_read_through_the_views_and_append(app_conn):
    with app_conn.cursor() as cur:
        cur.execute("SELECT document FROM order_documents WHERE order_id = '#W1000002'")
        assert cur.fetchone()[0]["fulfillments"]  # the view reads order_fulfillments with its owner's rights
        cur.execute("INSERT INTO handoffs (session_id, summary) VALUES ('s', 'appended without reading')")


def test_the_app_role_has_no_attributes_and_the_timeouts(app_conn, app_role, demo_settings):
    with app_conn.cursor() as cur:
        cur.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = %s",
            (app_role.name,),
        )
        assert cur.fetchone() == (False, False, False, False, False)
        for name, value in role_timeouts(demo_settings).items():
            cur.execute(f"SHOW {name}")  # names from our own table
            shown = cur.fetchone()[0]
            assert shown in (f"{value}ms", f"{int(value) // 1000}s", f"{int(value) // 60000}min"), (name, shown)


def test_every_table_and_view_has_a_decision(demo_db):
    """A migration that adds a table adds it to APP_PRIVILEGES too (with () when no tool uses it)."""
    with demo_db.transaction() as cur:
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        found = {row["table_name"] for row in cur.fetchall()} - {"schema_migrations"}
    assert found == set(APP_PRIVILEGES)
    assert available_migrations()  # the schema the check ran on is the migrations'


def _privileges(db: Database, role: str) -> set[tuple[str, str]]:
    with db.transaction() as cur:
        cur.execute(
            """SELECT table_name, privilege_type FROM information_schema.role_table_grants WHERE grantee = %s
               UNION SELECT table_name, privilege_type || ' (columns)' FROM information_schema.column_privileges
               WHERE grantee = %s""",
            (role, role),
        )
        return {(row["table_name"], row["privilege_type"]) for row in cur.fetchall()}


def test_a_privilege_not_in_the_table_is_revoked_on_the_next_run(demo_db, app_role):
    before = _privileges(demo_db, app_role.name)
    with demo_db.transaction() as cur:
        cur.execute(
            f'GRANT DELETE ON orders TO "{app_role.name}"; GRANT SELECT ON schema_migrations TO "{app_role.name}"'
        )
    assert _privileges(demo_db, app_role.name) > before
    migrate(demo_db, app_role=app_role.name)  # no password: the role keeps its own
    assert _privileges(demo_db, app_role.name) == before


def test_a_privileged_role_is_never_used_as_the_app_role(demo_db):
    with pytest.raises(AppRoleError):
        ensure_app_role(demo_db, "postgres", None)  # the superuser
    with demo_db.transaction() as cur:
        cur.execute("SELECT current_user AS me")
        me = cur.fetchone()["me"]
    with pytest.raises(AppRoleError):
        ensure_app_role(demo_db, me, None)


def _scram_matches(verifier: str, password: str) -> bool:
    """Whether a PostgreSQL SCRAM-SHA-256 verifier (pg_authid.rolpassword) is this password's."""
    method, rest = verifier.split("$", 1)
    assert method == "SCRAM-SHA-256"
    iterations_salt, keys = rest.split("$")
    iterations, salt = iterations_salt.split(":")
    stored_key = base64.b64decode(keys.split(":")[0])
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return hmac.compare_digest(hashlib.sha256(client_key).digest(), stored_key)


def _verifier(db: Database, role: str) -> str:
    with db.transaction() as cur:
        cur.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,))  # the tests' superuser
        return cur.fetchone()["rolpassword"]


def test_the_password_is_set_as_a_verifier_and_a_wrong_one_is_refused(demo_db, app_role):
    assert _scram_matches(_verifier(demo_db, app_role.name), app_role.password)
    if not app_role.via_pooler:
        pytest.skip("pgbouncer is not installed: the embedded server trusts its socket, so only the pooler checks it")
    wrong = app_role.settings.database_url.replace(app_role.password, "not-the-password")
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(wrong).close()


@pytest.fixture
def secrets_client(aws_endpoint):
    return boto3.client("secretsmanager", endpoint_url=aws_endpoint, region_name="us-east-1")


def test_the_first_run_fills_the_empty_secret_once(secrets_client):
    arn = secrets_client.create_secret(Name=f"app-{uuid.uuid4().hex[:8]}")["ARN"]  # as Terraform creates it
    first = app_credentials(secrets_client, arn, "some_app")
    assert len(first) >= 40 and app_credentials(secrets_client, arn, "some_app") == first
    value = json.loads(secrets_client.get_secret_value(SecretId=arn)["SecretString"])
    assert value["username"] == "some_app" and value["engine"] == "postgres" and value["trace_user_key"]
    with pytest.raises(ValueError, match="not the role"):
        app_credentials(secrets_client, arn, "another_role")


def test_rotation_changes_the_role_password_and_then_the_secret(secrets_client, scratch_database):
    db = Database(Settings(database_url=scratch_database()))
    role = f"app_rot_{uuid.uuid4().hex[:8]}"
    try:
        # A secret with its first value (as the first run of migrate writes it), rotation enabled; then what
        # Secrets Manager does before it invokes the function: a version labelled AWSPENDING under the request
        # token (written here as createSecret would write it). moto's RotateSecret copies the value the secret
        # was created with, so the secret is created with it.
        first = {"username": role, "password": secrets.token_urlsafe(32), "engine": "postgres", "trace_user_key": "k"}
        arn = secrets_client.create_secret(Name=f"rot-{uuid.uuid4().hex[:8]}", SecretString=json.dumps(first))["ARN"]
        secrets_client.rotate_secret(
            SecretId=arn, RotationRules={"AutomaticallyAfterDays": 30}, RotateImmediately=False
        )
        old = app_credentials(secrets_client, arn, role)
        assert old == first["password"]
        migrate(db, app_role=role, app_password=old)
        assert _scram_matches(_verifier(db, role), old)
        token = str(uuid.uuid4())
        current = json.loads(secrets_client.get_secret_value(SecretId=arn)["SecretString"])
        pending = {**current, "password": secrets.token_urlsafe(32)}
        secrets_client.put_secret_value(
            SecretId=arn, ClientRequestToken=token, SecretString=json.dumps(pending), VersionStages=["AWSPENDING"]
        )

        def step(name: str) -> str:
            return rotate(secrets_client, lambda: db, {"Step": name, "SecretId": arn, "ClientRequestToken": token})

        assert step("createSecret") == "pending version exists"
        assert step("setSecret") == "password set"
        assert _scram_matches(_verifier(db, role), pending["password"])
        assert app_credentials(secrets_client, arn, role) == old  # clients still read the old one
        assert step("testSecret") == "role can log in"
        assert step("finishSecret") == "pending version is current"
        assert app_credentials(secrets_client, arn, role) == pending["password"]
        assert step("finishSecret") == "already current"
        assert (
            json.loads(secrets_client.get_secret_value(SecretId=arn)["SecretString"])["trace_user_key"]
            == (current["trace_user_key"])
        )  # the traces' key survives rotation
    finally:
        drop_role(db, role)
        db.close()


def test_rotation_refuses_to_change_a_privileged_role(secrets_client, demo_db):
    arn = secrets_client.create_secret(
        Name=f"rot-{uuid.uuid4().hex[:8]}", SecretString=json.dumps({"username": "postgres", "password": "x"})
    )["ARN"]
    secrets_client.rotate_secret(SecretId=arn, RotationRules={"AutomaticallyAfterDays": 30}, RotateImmediately=False)
    token = str(uuid.uuid4())
    secrets_client.put_secret_value(
        SecretId=arn,
        ClientRequestToken=token,
        SecretString=json.dumps({"username": "postgres", "password": "hijacked"}),
        VersionStages=["AWSPENDING"],
    )
    with pytest.raises(RuntimeError, match="not an application role"):
        rotate(secrets_client, lambda: demo_db, {"Step": "setSecret", "SecretId": arn, "ClientRequestToken": token})


def test_in_aws_the_url_verifies_the_certificate_with_the_packaged_bundle():
    settings = Settings(database_host="db.proxy-abc.us-east-1.rds.amazonaws.com", database_sslmode="verify-full")
    url = url_for(settings, "order_agent_app", "p@ss/word")
    parsed = psycopg2.extensions.parse_dsn(url)
    assert parsed["sslmode"] == "verify-full" and Path(parsed["sslrootcert"]) == RDS_CA_BUNDLE
    assert parsed["password"] == "p@ss/word"
    assert "sslrootcert" not in url_for(settings.model_copy(update={"database_sslmode": "disable"}), "u", "p")


def test_the_packaged_bundle_holds_the_rds_and_the_rds_proxy_authorities():
    from cryptography import x509

    certificates = x509.load_pem_x509_certificates(RDS_CA_BUNDLE.read_bytes())
    names = {c.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value for c in certificates}
    # RDS Proxy's certificates are ACM's, which chain to the Amazon Trust Services roots
    assert {"Amazon Root CA 1", "Amazon Root CA 2", "Amazon Root CA 3", "Amazon Root CA 4"} <= names
    # the instances' own: the global RDS roots and the regional ones of each RDS CA generation
    assert {"Amazon RDS us-east-1 Root CA RSA2048 G1", "Amazon RDS eu-west-1 Root CA ECC384 G1"} <= names
    assert len(certificates) > 80
    assert credentials.RDS_CA_BUNDLE.stat().st_size > 100_000
