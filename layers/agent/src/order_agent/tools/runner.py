"""Runs a tool call from the model: validate, enforce policy, execute, and always return a result.

Whatever goes wrong (unknown tool, bad arguments, a policy refusal, a business rule, a
database outage) comes back as a structured `ToolResult` the model can read; nothing raises
out of `ToolRunner.run`.

Writes run in one transaction that first claims an idempotency key in `tool_writes`. A retry
with the same key (a Lambda retry, a resent message, a commit whose answer was lost) gets the
first result back and changes nothing. Callers pass their own key (the agent: the confirmed
action); the default is the session, the number of writes applied so far and the hash of the
exact action, so a retry from a conversation state saved before the write is recognised.
Concurrent calls with the same key serialise on the key's primary-key row: the second waits for
the first to commit and then reads its result.

A write is five round trips (`tools/changes.py`): BEGIN, the claim with the lock of the order the
write names by its `order_id` argument, the tool's read, the change it staged with its result,
COMMIT. A dry run is the tool's read alone: the tool stages its change and the runner drops it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import psycopg2
import psycopg2.errors
import psycopg2.extras
import psycopg2.pool
from aws_lambda_powertools import Logger
from pydantic import ValidationError

from order_agent.db.pool import Database, get_database
from order_agent.logs import service_name
from order_agent.settings import Settings, get_settings
from order_agent.tools import retail  # noqa: F401  (registers the tools)
from order_agent.tools.changes import CLAIM_AND_LOCK, EARLIER_WRITE
from order_agent.tools.context import ConversationContext, ToolCall
from order_agent.tools.registry import REGISTRY, ToolDefinition, ToolError
from order_agent.tracing import TOOL, span

logger = Logger(service=service_name(), child=True)

MAX_ARGUMENTS_BYTES = 16 * 1024


@dataclass
class ToolResult:
    tool_name: str
    ok: bool
    content: Any = None
    error_code: str | None = None
    error_message: str | None = None
    retryable: bool = False
    replayed: bool = False  # the stored result of an earlier call with the same idempotency key
    arguments: dict[str, Any] = field(default_factory=dict)

    def to_converse(self, tool_use_id: str) -> dict[str, Any]:
        """A Converse `toolResult` content block."""
        if self.ok:
            body = {"json": self.content} if isinstance(self.content, dict) else {"text": str(self.content)}
            return {"toolResult": {"toolUseId": tool_use_id, "content": [body], "status": "success"}}
        error = {"error": self.error_code, "message": self.error_message, "retryable": self.retryable}
        return {"toolResult": {"toolUseId": tool_use_id, "content": [{"json": error}], "status": "error"}}


def request_hash(tool_name: str, arguments: dict[str, Any]) -> str:
    """Identifies an action and its exact arguments (the same hash a confirmation carries)."""
    canonical = json.dumps({"tool": tool_name, "arguments": arguments}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class ToolRunner:
    def __init__(self, db: Database | None = None, settings: Settings | None = None) -> None:
        self._db = db
        self.settings = settings or get_settings()

    @property
    def db(self) -> Database:
        return self._db or get_database(self.settings)

    @staticmethod
    def definitions() -> list[ToolDefinition]:
        return sorted(REGISTRY.values(), key=lambda d: d.name)

    @classmethod
    def converse_tools(cls) -> list[dict[str, Any]]:
        """The `toolConfig.tools` list for the Converse API."""
        return [definition.converse_spec() for definition in cls.definitions()]

    def run(
        self,
        ctx: ConversationContext,
        name: str,
        arguments: Any,
        *,
        idempotency_key: str | None = None,
        dry_run: bool = False,
    ) -> ToolResult:
        """Run a tool. With `dry_run`, a write runs to the end and is rolled back: every rule is
        checked and the result previews the change (the agent shows it before asking to confirm)."""
        with span(name, TOOL, {"arguments": arguments, "dry_run": dry_run}) as record:
            record.attributes.update(dry_run=dry_run, authenticated_before=ctx.authenticated)
            result = self._run(ctx, name, arguments, idempotency_key, dry_run)
            record.outputs = (
                {"ok": True, "content": result.content, "replayed": result.replayed}
                if result.ok
                else {"ok": False, "error": result.error_code, "message": result.error_message}
            )
            record.attributes["ok"] = result.ok
            if not result.ok:
                record.error = f"{result.error_code}: {result.error_message}"
        return result

    def _run(
        self, ctx: ConversationContext, name: str, arguments: Any, idempotency_key: str | None, dry_run: bool
    ) -> ToolResult:
        try:
            definition = REGISTRY.get(name)
            if definition is None:
                raise ToolError("unknown_tool", f"There is no tool named {name!r}.")
            args = self._validate(definition, arguments)
            if definition.requires_auth and not ctx.authenticated:
                raise ToolError(
                    "not_authenticated",
                    "The customer is not verified yet: find them by email, or by first name, last name and zip.",
                )
            content, replayed = self._execute(definition, ctx, args, idempotency_key, dry_run)
            if definition.mutates_state and not dry_run:
                ctx.write_count += 1
            return ToolResult(name, True, content, replayed=replayed, arguments=args)
        except ToolError as error:
            return ToolResult(
                name,
                False,
                None,
                error.code,
                error.message,
                error.retryable,
                arguments=arguments if isinstance(arguments, dict) else {},
            )
        except Exception:  # a bug must not end the conversation; it is logged with its traceback
            logger.exception("tool %s failed unexpectedly", name)
            return ToolResult(name, False, None, "internal_error", "The tool failed unexpectedly.", True)

    @staticmethod
    def _validate(definition: ToolDefinition, arguments: Any) -> dict[str, Any]:
        if not isinstance(arguments, dict):
            raise ToolError("invalid_arguments", "Arguments must be a JSON object.")
        encoded = json.dumps(arguments, default=str)
        if len(encoded) > MAX_ARGUMENTS_BYTES:
            raise ToolError("invalid_arguments", f"Arguments are larger than {MAX_ARGUMENTS_BYTES} bytes.")
        if _has_nul(arguments):  # PostgreSQL text cannot hold NUL
            raise ToolError("invalid_arguments", "Arguments must not contain NUL characters.")
        try:
            return definition.arguments.model_validate(arguments).model_dump()
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'arguments'}: {error['msg']}"
                for error in exc.errors(include_url=False)
            )
            raise ToolError("invalid_arguments", f"Invalid arguments for {definition.name}: {problems}") from exc

    def _execute(
        self,
        definition: ToolDefinition,
        ctx: ConversationContext,
        args: dict[str, Any],
        key: str | None,
        dry_run: bool = False,
    ) -> tuple[Any, bool]:
        if not definition.uses_database:
            return definition.invoke(ToolCall(None, ctx, self.settings), **args), False
        # One retry on a dropped connection or a deadlock: the pool replaces the connection, and
        # a write is safe to repeat because its idempotency key is the same the second time.
        for attempt in (1, 2):
            try:
                if definition.mutates_state and not dry_run:
                    return self._write(definition, ctx, args, key)
                return self._read(definition, ctx, args), False
            except (psycopg2.errors.QueryCanceled, psycopg2.errors.LockNotAvailable, psycopg2.pool.PoolError) as exc:
                raise ToolError("busy", "The order database is busy; try again in a moment.", retryable=True) from exc
            except (psycopg2.errors.DeadlockDetected, psycopg2.errors.SerializationFailure) as exc:
                if attempt == 2:
                    raise ToolError(
                        "busy", "The order database is busy; try again in a moment.", retryable=True
                    ) from exc
            except psycopg2.errors.CheckViolation as exc:
                # The schema's last line of defence, e.g. a gift card balance below zero.
                raise ToolError(
                    "invalid_request", f"The change breaks a data rule: {exc.diag.constraint_name}"
                ) from exc
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
                self.db.discard_idle()
                if attempt == 2:
                    raise ToolError(
                        "unavailable",
                        "The order database is not reachable right now; try again shortly.",
                        retryable=True,
                    ) from exc
        raise AssertionError("unreachable")

    def applied(self, idempotency_key: str) -> bool:
        """Whether a write with this key has committed. False when that cannot be known now (the
        database is unreachable): callers then act on what the customer said, as usual."""
        try:
            with self.db.connection() as conn:
                conn.autocommit = True
                with conn.cursor() as cur:
                    cur.execute("SELECT 1 FROM tool_writes WHERE idempotency_key = %s", (idempotency_key,))
                    return cur.fetchone() is not None
        except (psycopg2.Error, psycopg2.pool.PoolError):
            logger.warning("could not check write %s", idempotency_key, exc_info=True)
            return False

    def _read(self, definition: ToolDefinition, ctx: ConversationContext, args: dict[str, Any]) -> Any:
        """A read, or a write's dry run: its read runs, unlocked, and the change it stages is dropped."""
        with self.db.connection() as conn:
            conn.autocommit = True  # one statement, one round trip; no BEGIN/COMMIT
            with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                return definition.invoke(ToolCall(cur, ctx, self.settings), **args)

    def _write(
        self, definition: ToolDefinition, ctx: ConversationContext, args: dict[str, Any], key: str | None
    ) -> tuple[Any, bool]:
        digest = request_hash(definition.name, args)
        key = key or f"{ctx.session_id}:{ctx.write_count}:{digest}"
        with self.db.transaction() as cur:
            cur.execute(
                CLAIM_AND_LOCK,
                {
                    "idempotency_key": key,
                    "session_id": ctx.session_id,
                    "customer_id": ctx.customer_id,
                    "tool_name": definition.name,
                    "request_hash": digest,
                    "order_id": args.get("order_id"),  # every write of an order names it so
                },
            )
            if not cur.fetchone()["claimed"]:
                cur.execute(EARLIER_WRITE, (key,))
                earlier = cur.fetchone()
                if (earlier["request_hash"], earlier["session_id"], earlier["customer_id"]) != (
                    digest,
                    ctx.session_id,
                    ctx.customer_id,
                ):
                    raise ToolError(
                        "idempotency_conflict", "This idempotency key was already used for a different action."
                    )
                return earlier["result"]["value"], True
            call = ToolCall(cur, ctx, self.settings, confirmed=True)
            value = definition.invoke(call, **args)
            if call.change is None:
                raise AssertionError(f"{definition.name} staged no change")
            cur.execute(
                call.change.statement,
                {**call.change.params, "idempotency_key": key, "result": psycopg2.extras.Json({"value": value})},
            )
            return value, False
