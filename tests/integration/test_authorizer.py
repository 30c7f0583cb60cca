"""The `$connect` REQUEST authorizer against a real JWKS served over HTTP on 127.0.0.1.

Keys are generated here (RSA and EC), tokens are signed with them, and the authorizer fetches the public keys the
way it does from Cognito in AWS. Every refusal must be the bare `Exception("Unauthorized")` API Gateway maps to 401.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from order_agent.edge import auth
from order_agent.edge.auth import authorize
from order_agent.settings import Settings

METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/local/$connect"
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Ex4mple01"
CLIENT_ID = "4tq1example0client0id0abcd"
SUB = "8f5e2c1a-7b3d-4e9f-a1c2-0d6b9e8f7a65"
EMAIL = "ana.lima@example.com"
HANDLER_PATH = Path(__file__).resolve().parents[2] / "lambdas" / "authorizer" / "handler.py"


# -- keys and the JWKS server -------------------------------------------------------------------------------------


@dataclass
class Keys:
    rsa: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    ec: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    # Never published: stands for a key the issuer does not (or no longer) have.
    stranger: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def jwks(self) -> dict[str, Any]:
        rsa_jwk = RSAAlgorithm.to_jwk(self.rsa.public_key(), as_dict=True)
        ec_jwk = ECAlgorithm.to_jwk(self.ec.public_key(), as_dict=True)
        return {
            "keys": [
                {**rsa_jwk, "kid": "rsa-1", "alg": "RS256", "use": "sig"},
                {**ec_jwk, "kid": "ec-1", "alg": "ES256", "use": "sig"},
            ]
        }

    def rsa_public_pem(self) -> bytes:
        return self.rsa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@dataclass
class JwksServer:
    url: str
    requests: list[str]

    def count(self) -> int:
        return len(self.requests)


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@pytest.fixture(scope="module")
def jwks_server(keys: Keys) -> Iterator[JwksServer]:
    body = json.dumps(keys.jwks()).encode()
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)  # list.append is atomic; the count is what the tests read
            if self.path.split("?")[0] != "/.well-known/jwks.json":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield JwksServer(f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json", requests)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        assert not thread.is_alive()


@pytest.fixture(autouse=True)
def _fresh_jwks_cache() -> Iterator[None]:
    # Each test starts cold, so request counts and unknown-kid cooldowns do not leak between tests.
    auth.clear_jwks_cache()
    yield
    auth.clear_jwks_cache()


@pytest.fixture
def settings(jwks_server: JwksServer) -> Settings:
    return Settings(auth_mode="jwt", jwt_jwks_url=jwks_server.url, jwt_issuer=ISSUER, jwt_audience=CLIENT_ID)


# -- tokens and events ---------------------------------------------------------------------------------------------


def id_claims(**overrides: Any) -> dict[str, Any]:
    """A Cognito ID token's claims (`aud` is the app client)."""
    now = int(time.time())
    claims = {
        "sub": SUB,
        "email": EMAIL,
        "email_verified": True,
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "token_use": "id",
        "auth_time": now - 5,
        "iat": now - 5,
        "exp": now + 3600,
        "cognito:groups": ["customers"],  # a list claim: must not leak into the flat context
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def access_claims(**overrides: Any) -> dict[str, Any]:
    """A Cognito access token's claims: `client_id` and no `aud`."""
    now = int(time.time())
    claims = {
        "sub": SUB,
        "iss": ISSUER,
        "client_id": CLIENT_ID,
        "token_use": "access",
        "scope": "openid email",
        "username": "ana",
        "iat": now - 5,
        "exp": now + 3600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def sign(claims: dict[str, Any], key: Any, *, kid: str = "rsa-1", alg: str = "RS256") -> str:
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(obj: dict[str, Any]) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def connect_event(token: str | None = None, *, authorization: str | None = None) -> dict[str, Any]:
    """A `$connect` REQUEST authorizer event as API Gateway sends it for a WebSocket API."""
    headers = {
        "Connection": "upgrade",
        "content-length": "0",
        "Host": "abcdef1234.execute-api.us-east-1.amazonaws.com",
        "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
        "Upgrade": "websocket",
        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0",
        "X-Amzn-Trace-Id": "Root=1-6741f2a4-0d3c3c4e7a6b5f1e2d9c8b7a",
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    if authorization is not None:
        headers["Authorization"] = authorization
    now_ms = int(time.time() * 1000)
    event: dict[str, Any] = {
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "stageVariables": {},
        "requestContext": {
            "routeKey": "$connect",
            "eventType": "CONNECT",
            "extendedRequestId": "CvJ7aFzSoAMEbKw=",
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now_ms / 1000)),
            "messageDirection": "IN",
            "stage": "local",
            "connectedAt": now_ms,
            "requestTimeEpoch": now_ms,
            "identity": {"userAgent": headers["User-Agent"], "sourceIp": "203.0.113.7"},
            "requestId": "CvJ7aFzSoAMEbKw=",
            "domainName": "abcdef1234.execute-api.us-east-1.amazonaws.com",
            "connectionId": "CvJ7aeLyoAMCJhQ=",
            "apiId": "abcdef1234",
        },
    }
    if token is not None:  # API Gateway leaves the query keys out when the URL has no query string
        event["queryStringParameters"] = {"token": token}
        event["multiValueQueryStringParameters"] = {"token": [token]}
    return event


def assert_allowed(result: dict[str, Any], principal: str) -> None:
    assert result["principalId"] == principal
    assert result["policyDocument"] == {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": METHOD_ARN}],
    }
    # API Gateway rejects nested objects in the context and results over 8 KB.
    assert all(isinstance(v, str | int | float | bool) for v in result["context"].values())
    assert len(json.dumps(result).encode()) <= 8192


def assert_unauthorized(event: dict[str, Any], settings: Settings) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$") as info:
        authorize(event, settings)
    # Exactly Exception("Unauthorized"), with nothing chained that could carry the token into the error report.
    assert type(info.value) is Exception
    assert info.value.args == ("Unauthorized",)
    assert info.value.__cause__ is None and info.value.__suppress_context__


# -- valid tokens --------------------------------------------------------------------------------------------------


def test_valid_id_token_in_the_query_string_is_allowed(settings: Settings, keys: Keys):
    result = authorize(connect_event(sign(id_claims(), keys.rsa)), settings)
    assert_allowed(result, SUB)
    assert result["context"] == {"sub": SUB, "email": EMAIL, "email_verified": True}


def test_valid_token_in_the_authorization_header_is_allowed(settings: Settings, keys: Keys):
    event = connect_event(authorization=f"Bearer {sign(id_claims(), keys.rsa)}")
    assert "queryStringParameters" not in event
    result = authorize(event, settings)
    assert_allowed(result, SUB)
    assert result["context"]["sub"] == SUB and result["context"]["email"] == EMAIL


def test_header_name_and_scheme_are_case_insensitive(settings: Settings, keys: Keys):
    event = connect_event()
    event["headers"]["authorization"] = f"bearer {sign(id_claims(), keys.rsa)}"
    assert_allowed(authorize(event, settings), SUB)


def test_valid_es256_token_is_allowed(settings: Settings, keys: Keys):
    token = sign(id_claims(), keys.ec, kid="ec-1", alg="ES256")
    assert_allowed(authorize(connect_event(token), settings), SUB)


def test_token_without_email_carries_only_sub(settings: Settings, keys: Keys):
    result = authorize(connect_event(sign(id_claims(email=None, email_verified=None), keys.rsa)), settings)
    assert result["context"] == {"sub": SUB}


def test_audience_list_containing_ours_is_allowed(settings: Settings, keys: Keys):
    token = sign(id_claims(aud=["some-other-api", CLIENT_ID]), keys.rsa)
    assert_allowed(authorize(connect_event(token), settings), SUB)


def test_cognito_access_token_with_our_client_id_is_allowed(settings: Settings, keys: Keys):
    result = authorize(connect_event(sign(access_claims(), keys.rsa)), settings)
    assert_allowed(result, SUB)
    assert result["context"] == {"sub": SUB}


def test_expiry_has_a_small_leeway_only(settings: Settings, keys: Keys):
    now = int(time.time())
    assert_allowed(authorize(connect_event(sign(id_claims(exp=now - 2), keys.rsa)), settings), SUB)
    assert_unauthorized(connect_event(sign(id_claims(exp=now - 120), keys.rsa)), settings)


# -- refused tokens ------------------------------------------------------------------------------------------------


def test_expired_token_is_refused(settings: Settings, keys: Keys):
    now = int(time.time())
    assert_unauthorized(connect_event(sign(id_claims(iat=now - 7200, exp=now - 3600), keys.rsa)), settings)


def test_wrong_issuer_is_refused(settings: Settings, keys: Keys):
    other_pool = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Someone3lse"
    assert_unauthorized(connect_event(sign(id_claims(iss=other_pool), keys.rsa)), settings)


def test_missing_issuer_is_refused(settings: Settings, keys: Keys):
    assert_unauthorized(connect_event(sign(id_claims(iss=None), keys.rsa)), settings)


def test_wrong_audience_is_refused(settings: Settings, keys: Keys):
    assert_unauthorized(connect_event(sign(id_claims(aud="another-app-client"), keys.rsa)), settings)
    assert_unauthorized(connect_event(sign(id_claims(aud=["a", "b"]), keys.rsa)), settings)


def test_id_token_without_audience_is_refused_even_with_our_client_id(settings: Settings, keys: Keys):
    # `client_id` stands in for `aud` only on access tokens.
    assert_unauthorized(connect_event(sign(id_claims(aud=None, client_id=CLIENT_ID), keys.rsa)), settings)


def test_access_token_for_another_client_is_refused(settings: Settings, keys: Keys):
    assert_unauthorized(connect_event(sign(access_claims(client_id="another-app-client"), keys.rsa)), settings)


def test_access_token_with_a_foreign_aud_is_refused_despite_our_client_id(settings: Settings, keys: Keys):
    assert_unauthorized(connect_event(sign(access_claims(aud="another-api"), keys.rsa)), settings)


def test_token_without_sub_or_exp_is_refused(settings: Settings, keys: Keys):
    assert_unauthorized(connect_event(sign(id_claims(sub=None), keys.rsa)), settings)
    assert_unauthorized(connect_event(sign(id_claims(exp=None), keys.rsa)), settings)


def test_token_signed_by_an_unknown_key_is_refused(settings: Settings, keys: Keys):
    assert_unauthorized(connect_event(sign(id_claims(), keys.stranger, kid="rotated-away")), settings)


def test_token_signed_by_another_key_under_a_known_kid_is_refused(settings: Settings, keys: Keys):
    assert_unauthorized(connect_event(sign(id_claims(), keys.stranger, kid="rsa-1")), settings)


def test_token_without_kid_is_refused(settings: Settings, keys: Keys):
    token = jwt.encode(id_claims(), keys.rsa, algorithm="RS256")
    assert "kid" not in jwt.get_unverified_header(token)
    assert_unauthorized(connect_event(token), settings)


def test_alg_none_token_is_refused(settings: Settings, jwks_server: JwksServer):
    before = jwks_server.count()
    for header in ({"alg": "none", "typ": "JWT", "kid": "rsa-1"}, {"alg": "none"}, {"alg": "None", "kid": "rsa-1"}):
        token = f"{b64json(header)}.{b64json(id_claims())}."
        assert_unauthorized(connect_event(token), settings)
    assert jwks_server.count() == before  # refused before any key lookup


def test_hs256_token_signed_with_the_public_key_is_refused(settings: Settings, keys: Keys):
    # Algorithm confusion: the published RSA public key used as an HMAC secret.
    secret = keys.rsa_public_pem()
    header = b64json({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"})
    payload = b64json(id_claims())
    signature = b64url(hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    token = f"{header}.{payload}.{signature}"
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert_unauthorized(connect_event(token), settings)


def test_algorithm_not_matching_the_key_is_refused(settings: Settings, keys: Keys):
    # RS512 with the right RSA key: not on the allow-list.
    assert_unauthorized(connect_event(sign(id_claims(), keys.rsa, kid="rsa-1", alg="RS512")), settings)
    # ES256 signed with the EC key but naming the RSA key's kid.
    assert_unauthorized(connect_event(sign(id_claims(), keys.ec, kid="rsa-1", alg="ES256")), settings)


def test_tampered_payload_is_refused(settings: Settings, keys: Keys):
    header, _, signature = sign(id_claims(), keys.rsa).split(".")
    forged = f"{header}.{b64json(id_claims(sub='someone-else', email='boss@example.com'))}.{signature}"
    assert_unauthorized(connect_event(forged), settings)


def test_missing_token_is_refused(settings: Settings):
    assert_unauthorized(connect_event(), settings)
    assert_unauthorized(connect_event(""), settings)
    assert_unauthorized(connect_event(authorization="Bearer "), settings)
    assert_unauthorized(connect_event(authorization="Basic YW5hOnNlY3JldA=="), settings)
    event = connect_event()
    event["queryStringParameters"] = None  # as some proxies and the Lambda console send it
    event["headers"] = None
    assert_unauthorized(event, settings)


@pytest.mark.parametrize(
    "token", ["garbage", "a.b.c", "....", "eyJhbGciOiJSUzI1NiJ9", "eyJhbGciOiJSUzI1NiJ9.e30.", "x" * 10_000]
)
def test_garbage_token_is_refused(settings: Settings, token: str):
    assert_unauthorized(connect_event(authorization=f"Bearer {token}"), settings)


def test_event_without_method_arn_is_refused(settings: Settings, keys: Keys):
    event = connect_event(sign(id_claims(), keys.rsa))
    del event["methodArn"]
    assert_unauthorized(event, settings)


# -- configuration -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("unset", ["jwt_jwks_url", "jwt_issuer", "jwt_audience"])
def test_incomplete_jwt_configuration_fails_closed(
    settings: Settings, keys: Keys, caplog: pytest.LogCaptureFixture, unset: str
):
    caplog.set_level(logging.INFO, logger=auth.logger.name)
    broken = settings.model_copy(update={unset: None})
    assert_unauthorized(connect_event(sign(id_claims(), keys.rsa)), broken)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and errors[0].reason == f"{unset}_unset"


def test_unreachable_jwks_fails_closed_quickly(settings: Settings, keys: Keys, caplog: pytest.LogCaptureFixture):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    caplog.set_level(logging.INFO, logger=auth.logger.name)
    unreachable = settings.model_copy(update={"jwt_jwks_url": f"http://127.0.0.1:{port}/.well-known/jwks.json"})
    started = time.monotonic()
    assert_unauthorized(connect_event(sign(id_claims(), keys.rsa)), unreachable)
    assert time.monotonic() - started < auth.JWKS_TIMEOUT_SECONDS + 2
    assert any(r.levelno >= logging.ERROR and r.reason.startswith("jwks_unavailable") for r in caplog.records)


def test_jwks_url_that_is_not_a_jwks_fails_closed(settings: Settings, keys: Keys, jwks_server: JwksServer):
    not_found = settings.model_copy(update={"jwt_jwks_url": jwks_server.url.replace("jwks.json", "missing.json")})
    assert_unauthorized(connect_event(sign(id_claims(), keys.rsa)), not_found)


def test_mode_none_allows_everyone_as_anonymous():
    dev = Settings(auth_mode="none")
    for event in (connect_event(), connect_event("whatever"), connect_event(authorization="Bearer junk")):
        result = authorize(event, dev)
        assert_allowed(result, "anonymous")
        assert result["context"] == {"sub": "anonymous"}


def test_mode_none_still_needs_a_method_arn():
    event = connect_event()
    event["methodArn"] = None
    assert_unauthorized(event, Settings(auth_mode="none"))


# -- caching and logging -------------------------------------------------------------------------------------------


def test_jwks_is_fetched_once_and_cached_across_calls(settings: Settings, keys: Keys, jwks_server: JwksServer):
    before = jwks_server.count()
    for _ in range(5):
        assert_allowed(authorize(connect_event(sign(id_claims(), keys.rsa)), settings), SUB)
        assert_allowed(authorize(connect_event(sign(id_claims(), keys.ec, kid="ec-1", alg="ES256")), settings), SUB)
    assert jwks_server.count() - before == 1


def test_unknown_kids_cannot_make_the_authorizer_refetch_every_time(
    settings: Settings, keys: Keys, jwks_server: JwksServer
):
    before = jwks_server.count()
    for i in range(5):
        assert_unauthorized(connect_event(sign(id_claims(), keys.stranger, kid=f"unknown-{i}")), settings)
    assert_allowed(authorize(connect_event(sign(id_claims(), keys.rsa)), settings), SUB)
    # The first fetch starts the refresh cooldown, so no unknown kid forces another one.
    assert jwks_server.count() - before == 1


def test_the_token_is_never_logged(settings: Settings, keys: Keys, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    good = sign(id_claims(), keys.rsa)
    expired = sign(id_claims(exp=int(time.time()) - 3600), keys.rsa)
    authorize(connect_event(good), settings)
    assert_unauthorized(connect_event(expired), settings)
    assert_unauthorized(connect_event(authorization=f"Bearer {expired}"), settings)
    assert len(caplog.records) >= 3
    reasons = [getattr(r, "reason", None) for r in caplog.records]
    assert reasons.count("expired") == 2
    for record in caplog.records:
        text = record.getMessage() + json.dumps(record.__dict__, default=str)
        for token in (good, expired):
            assert token not in text
            assert token.split(".")[2] not in text  # not even the signature
        assert EMAIL not in text  # personal data stays out of the logs


def test_log_records_carry_the_connection_for_correlation(
    settings: Settings, keys: Keys, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger=auth.logger.name)
    authorize(connect_event(sign(id_claims(), keys.rsa)), settings)
    (record,) = [r for r in caplog.records if r.name == auth.logger.name]
    assert record.connection_id == "CvJ7aeLyoAMCJhQ=" and record.principal_id == SUB


# -- the Lambda entry point ----------------------------------------------------------------------------------------


def test_lambda_handler_uses_the_settings(monkeypatch: pytest.MonkeyPatch, settings: Settings, keys: Keys):
    spec = importlib.util.spec_from_file_location("authorizer_handler_under_test", HANDLER_PATH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "get_settings", lambda: settings)
    assert_allowed(module.handler(connect_event(sign(id_claims(), keys.rsa)), None), SUB)
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        module.handler(connect_event(sign(id_claims(aud="nope"), keys.rsa)), None)
