"""The `$connect` REQUEST authorizer of the WebSocket API: who may open a connection.

API Gateway calls it once per connection attempt (authorizers exist only on `$connect` for WebSocket APIs) and
attaches the returned `context` to every later event of that connection as `requestContext.authorizer`.

- The token comes from the query string (`?token=…`), because browsers cannot set headers on a WebSocket; an
  `Authorization: Bearer …` header is accepted as a fallback for non-browser clients.
- `AUTH_MODE=none` lets everyone in as "anonymous" (local development only).
- `AUTH_MODE=jwt` verifies the token against the issuer's JWKS (asymmetric algorithms only), its expiry, issuer and
  audience (or a Cognito access token's `client_id`).

Any failure, including a configuration error, raises `Exception("Unauthorized")`: that exact message is how a Lambda
authorizer makes API Gateway answer 401. Nothing here ever allows by default, and the token is never logged.
"""

from __future__ import annotations

import json
import threading
import traceback
from typing import Any

import jwt
from aws_lambda_powertools import Logger
from jwt import PyJWK, PyJWKClient

from order_agent.logs import service_name
from order_agent.settings import Settings

logger = Logger(service=service_name(), child=True)

# Asymmetric only: with HS* a published public key would become a shared secret (algorithm confusion),
# and "none" is no signature at all.
ALLOWED_ALGORITHMS: tuple[str, ...] = ("RS256", "ES256")
LEEWAY_SECONDS = 10  # clock skew between the issuer and Lambda
REQUIRED_CLAIMS = ["exp", "iss", "sub"]
JWKS_LIFESPAN_SECONDS = 600  # issuers rotate keys rarely; an unknown kid still triggers a refresh (below)
JWKS_REFRESH_COOLDOWN_SECONDS = 30  # at most one forced refresh per interval, so unknown kids cannot flood the issuer
JWKS_TIMEOUT_SECONDS = 3.0  # well inside the authorizer's own timeout
MAX_TOKEN_CHARS = 8192  # the URL is capped at 4,096 characters anyway; this bounds header-borne tokens
MAX_SUB_CHARS = 256
MAX_EMAIL_CHARS = 320
MAX_RESULT_BYTES = 8192  # API Gateway rejects authorizer results (policy + context) above 8 KB

ANONYMOUS = "anonymous"

_jwks_clients: dict[str, PyJWKClient] = {}
_jwks_clients_lock = threading.Lock()
_warned_auth_disabled = False


class _Denied(Exception):
    """Internal: why a request was refused (logged), before it becomes the bare "Unauthorized"."""

    def __init__(self, reason: str, *, config_error: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.config_error = config_error


def authorize(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Answer API Gateway's REQUEST authorizer event for `$connect`: an Allow policy, or raise Unauthorized."""
    log_fields = _correlation(event)
    try:
        method_arn = _method_arn(event)
        if settings.auth_mode == "none":
            _warn_auth_disabled()
            result = _allow(method_arn, ANONYMOUS, {"sub": ANONYMOUS})
        elif settings.auth_mode == "jwt":
            claims = _verify(_token(event), settings)
            result = _allow(method_arn, claims["sub"], _context(claims))
        else:  # unreachable through Settings validation; refuse rather than guess
            raise _Denied("unknown_auth_mode", config_error=True)
    except _Denied as denied:
        if denied.config_error:
            logger.error("authorizer misconfigured", extra={**log_fields, "reason": denied.reason})
        else:
            logger.info("connection refused", extra={**log_fields, "reason": denied.reason})
        # `from None`: no chained exception (and nothing derived from the token) in the Lambda error report.
        raise Exception("Unauthorized") from None  # exactly this message: API Gateway maps it to 401
    except Exception as exc:
        # An unexpected failure must never turn into an Allow. Log the type and the frames but not the message,
        # which could quote the token.
        logger.error(
            "authorizer failed unexpectedly",
            extra={
                **log_fields,
                "reason": "internal_error",
                "error_type": type(exc).__name__,
                "traceback": "".join(traceback.format_tb(exc.__traceback__)),
            },
        )
        raise Exception("Unauthorized") from None
    logger.info(
        "connection authorized",
        extra={**log_fields, "principal_id": result["principalId"], "auth_mode": settings.auth_mode},
    )
    return result


def clear_jwks_cache() -> None:
    """Forget the per-process JWKS clients and their cached keys (tests; a rotated issuer URL)."""
    with _jwks_clients_lock:
        _jwks_clients.clear()


# -- the event -------------------------------------------------------------------------------------------------------


def _correlation(event: dict[str, Any]) -> dict[str, Any]:
    context = event.get("requestContext") if isinstance(event, dict) else None
    context = context if isinstance(context, dict) else {}  # logging must never be what fails the request
    return {
        "connection_id": context.get("connectionId"),
        "request_id": context.get("requestId"),
        "route_key": context.get("routeKey"),
    }


def _method_arn(event: dict[str, Any]) -> str:
    method_arn = event.get("methodArn")
    if not isinstance(method_arn, str) or not method_arn.startswith("arn:") or ":execute-api:" not in method_arn:
        # Without it there is no resource to allow; a wiring error, not a client error.
        raise _Denied("no_method_arn", config_error=True)
    return method_arn


def _token(event: dict[str, Any]) -> str:
    query = event.get("queryStringParameters") or {}
    token = query.get("token") if isinstance(query, dict) else None
    if not token:
        headers = event.get("headers") or {}
        for name, value in headers.items() if isinstance(headers, dict) else ():
            if isinstance(name, str) and name.lower() == "authorization" and isinstance(value, str):
                scheme, _, credentials = value.strip().partition(" ")
                if scheme.lower() == "bearer":
                    token = credentials.strip()
                break
    if not isinstance(token, str) or not token:
        raise _Denied("missing_token")
    if len(token) > MAX_TOKEN_CHARS:
        raise _Denied("token_too_long")
    return token.strip()


# -- verification ----------------------------------------------------------------------------------------------------


def _jwks_client(url: str) -> PyJWKClient:
    # One client per URL and process: its JWK set cache survives across warm Lambda invocations.
    with _jwks_clients_lock:
        client = _jwks_clients.get(url)
        if client is None:
            client = PyJWKClient(
                url,
                cache_jwk_set=True,
                lifespan=JWKS_LIFESPAN_SECONDS,
                timeout=JWKS_TIMEOUT_SECONDS,
                cooldown_duration=JWKS_REFRESH_COOLDOWN_SECONDS,
            )
            _jwks_clients[url] = client
        return client


def _verify(token: str, settings: Settings) -> dict[str, Any]:
    # Fail closed on an incomplete configuration: without issuer and audience any token of the key's owner would pass.
    if not settings.jwt_jwks_url:
        raise _Denied("jwt_jwks_url_unset", config_error=True)
    if not settings.jwt_issuer:
        raise _Denied("jwt_issuer_unset", config_error=True)
    if not settings.jwt_audience:
        raise _Denied("jwt_audience_unset", config_error=True)

    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise _Denied("malformed_token") from None
    # Checked before any key lookup so that junk never costs a JWKS request.
    if header.get("alg") not in ALLOWED_ALGORITHMS:
        raise _Denied("algorithm_not_allowed")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise _Denied("no_kid")

    key = _signing_key(settings.jwt_jwks_url, kid)
    if key.algorithm_name not in ALLOWED_ALGORITHMS:
        raise _Denied("key_algorithm_not_allowed")

    try:
        # A PyJWK key also makes PyJWT insist that the token's alg equals the key's own algorithm.
        claims = jwt.decode(
            token,
            key=key,
            algorithms=list(ALLOWED_ALGORITHMS),
            issuer=settings.jwt_issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": REQUIRED_CLAIMS, "verify_aud": False},  # audience checked below (Cognito access)
        )
    except jwt.ExpiredSignatureError:
        raise _Denied("expired") from None
    except jwt.InvalidIssuerError:
        raise _Denied("wrong_issuer") from None
    except jwt.InvalidSignatureError:
        raise _Denied("bad_signature") from None
    except jwt.PyJWTError as exc:
        raise _Denied(f"invalid_token:{type(exc).__name__}") from None

    _check_audience(claims, settings.jwt_audience)
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > MAX_SUB_CHARS:
        raise _Denied("bad_sub")
    return claims


def _signing_key(url: str, kid: str) -> PyJWK:
    try:
        # Cached JWK set; an unknown kid forces one refetch per cooldown (key rotation), then fails.
        return _jwks_client(url).get_signing_key(kid)
    except jwt.PyJWKClientConnectionError as exc:
        # The issuer is unreachable: every user is refused, so an operator must hear of it.
        raise _Denied(f"jwks_unavailable:{type(exc.__cause__).__name__}", config_error=True) from None
    except jwt.PyJWKClientError:
        raise _Denied("unknown_kid") from None
    except Exception as exc:  # a JWKS document PyJWT cannot parse (not JSON, unusable keys)
        raise _Denied(f"jwks_invalid:{type(exc).__name__}", config_error=True) from None


def _check_audience(claims: dict[str, Any], audience: str) -> None:
    if "aud" in claims:
        # An explicit audience that does not name us means the token is meant for someone else.
        aud = claims["aud"]
        audiences = [aud] if isinstance(aud, str) else aud
        if not isinstance(audiences, list) or audience not in [a for a in audiences if isinstance(a, str)]:
            raise _Denied("wrong_audience")
        return
    # Cognito access tokens carry the app client in `client_id` and have no `aud`.
    if claims.get("token_use") == "access" and claims.get("client_id") == audience:
        return
    raise _Denied("wrong_audience")


# -- the result ------------------------------------------------------------------------------------------------------


def _context(claims: dict[str, Any]) -> dict[str, str | bool]:
    # Flat strings and booleans only: API Gateway rejects nested objects in the authorizer context.
    context: dict[str, str | bool] = {"sub": claims["sub"]}
    email = claims.get("email")
    if isinstance(email, str) and email and len(email) <= MAX_EMAIL_CHARS:
        context["email"] = email
        if isinstance(claims.get("email_verified"), bool):
            # Downstream must not treat an unverified address as proof of identity.
            context["email_verified"] = claims["email_verified"]
    return context


def _allow(method_arn: str, principal_id: str, context: dict[str, str | bool]) -> dict[str, Any]:
    result = {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": method_arn}],
        },
        "context": context,
    }
    if len(json.dumps(result).encode()) > MAX_RESULT_BYTES:
        # API Gateway would fail the connection with a 500; refuse clearly instead.
        raise _Denied("result_too_large", config_error=True)
    return result


def _warn_auth_disabled() -> None:
    global _warned_auth_disabled
    if not _warned_auth_disabled:
        _warned_auth_disabled = True
        logger.warning("AUTH_MODE=none: every connection is allowed as %r (local development only)", ANONYMOUS)
