"""One logging system: Powertools for AWS Lambda `Logger`, JSON on stdout, one service name.

- Every Lambda entry point owns the service's logger, `Logger(service=service_name())`, and wraps
  its handler in `entry_point`, which gives each invocation's records the function's context
  (name, request id, cold start), a correlation id read from the event, and nothing left over
  from the invocation before (`clear_state`).
- Library modules log through a child of it, `Logger(service=service_name(), child=True)`
  (Powertools names it `<service>.<module>`): its records go through the entry point's handler, so
  a library warning is JSON and carries the invocation's correlation id. Imported where no entry
  point runs (the CLI, scripts), a child has no Powertools parent and its records reach the root
  logger like any stdlib logger's (warnings on stderr, as plain text).

The service name is POWERTOOLS_SERVICE_NAME, which Terraform sets on every function; locally it
defaults to DEFAULT_SERVICE_NAME. It is read when a logger is created (at import), as Powertools does.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities import jmespath_utils

DEFAULT_SERVICE_NAME = "order-agent"  # local runs; in AWS, POWERTOOLS_SERVICE_NAME (Terraform's `name`)

Handler = TypeVar("Handler", bound=Callable[..., Any])


def service_name() -> str:
    return os.environ.get("POWERTOOLS_SERVICE_NAME") or DEFAULT_SERVICE_NAME


def entry_point(logger: Logger, *, correlation_id_path: str | None = None) -> Callable[[Handler], Handler]:
    """`logger.inject_lambda_context(correlation_id_path=..., clear_state=True)` for a Lambda handler,
    which also accepts no context (tests and scripts call handlers with `None`): the invocation's
    keys are then reset and the correlation id set all the same, without the function's fields."""

    def decorate(handler: Handler) -> Handler:
        injected = logger.inject_lambda_context(correlation_id_path=correlation_id_path, clear_state=True)(handler)

        @functools.wraps(handler)
        def run(event: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
            if context is not None:
                return injected(event, context, *args, **kwargs)
            logger.clear_state()
            if correlation_id_path:
                logger.set_correlation_id(jmespath_utils.query(envelope=correlation_id_path, data=event))
            return handler(event, context, *args, **kwargs)

        return run  # type: ignore[return-value]

    return decorate
