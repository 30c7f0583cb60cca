"""The `scripted` provider: replays model responses from a file, in order, for tests and
adversarial cases; it fails loudly when the conversation goes anywhere the script did not expect.

A script is a JSON or YAML list; each entry answers one model call. An entry is either a raw
Converse response (`{"output": {"message": {"content": [...]}}, "stopReason": ..., "usage": ...}`)
or the short form:

    - expect:                         # optional checks on the request; a mismatch raises ScriptDivergence
        stage: entry_intent           #   the graph stage that calls
        customer_text: cancel         #   a case-insensitive substring of the latest customer text
        tool_result: find_user_id_by_email   # the latest user message answers this tool ...
        tool_status: success          #   ... with this status
      text: "Sure, what is your email?"                      # optional
      tool_use: {name: find_user_id_by_email, input: {email: ana@example.com}}   # optional
      tool_uses: [...]                                       # several
      usage: {inputTokens: 900, outputTokens: 40, cacheReadInputTokens: 800}
      stop_reason: end_turn                                  # default: tool_use when tools are used
      model_id: us.anthropic.claude-sonnet-4-6               # default: scripted (priced at 0)

Tool-use ids are generated (`scripted-<call>-<n>`) unless given.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from order_agent.model.base import ModelRequest, ModelResponse, TextCallback, Usage, converse_transcript_problems


class ScriptDivergence(AssertionError):
    """The conversation asked for something the script does not contain."""


def load_script(path: Path) -> list[dict[str, Any]]:
    text = Path(path).read_text(encoding="utf-8")
    if Path(path).suffix in {".yaml", ".yml"}:
        import yaml  # a development dependency: scripts are for tests and local runs

        steps = yaml.safe_load(text)
    else:
        steps = json.loads(text)
    if not isinstance(steps, list):
        raise ValueError(f"{path}: a script is a list of model responses")
    return steps


def _latest_user(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return next((m for m in reversed(messages) if m["role"] == "user"), {"content": []})


def _customer_text(messages: list[dict[str, Any]]) -> str:
    """The newest customer words, looking back past messages that only carry tool results."""
    for message in reversed(messages):
        if message["role"] == "user":
            texts = [block["text"] for block in message["content"] if "text" in block]
            if texts:
                return " ".join(texts)
    return ""


class ScriptedProvider:
    name = "scripted"

    def __init__(
        self, steps: list[dict[str, Any]], *, first_token_delay_s: float = 0.0, chunk_delay_s: float = 0.0
    ) -> None:
        self.steps = list(steps)
        self.calls: list[ModelRequest] = []
        # A model's pace, for streaming tests and benchmarks: wait before the first piece, then between pieces.
        self.first_token_delay_s = first_token_delay_s
        self.chunk_delay_s = chunk_delay_s

    @classmethod
    def from_file(cls, path: Path) -> ScriptedProvider:
        return cls(load_script(path))

    @property
    def remaining(self) -> int:
        return len(self.steps) - len(self.calls)

    def converse(self, request: ModelRequest, on_text: TextCallback | None = None) -> ModelResponse:
        started = time.perf_counter()
        first_token_ms: float | None = None
        index = len(self.calls)
        self.calls.append(request)
        if index >= len(self.steps):
            raise ScriptDivergence(
                f"model call {index + 1} ({request.stage}) but the script has only {len(self.steps)} responses; "
                f"latest customer text: {_customer_text(request.messages)!r}"
            )
        problems = converse_transcript_problems(request.messages)
        if problems:
            raise ScriptDivergence(f"model call {index + 1}: the transcript is not valid Converse: {problems}")
        step = self.steps[index]
        self._check(index, step.get("expect") or {}, request)
        content, stop_reason, usage = self._response(index, step)
        offered = {tool["toolSpec"]["name"] for tool in request.tools if "toolSpec" in tool}
        for block in content:
            if "toolUse" in block and block["toolUse"]["name"] not in offered:
                raise ScriptDivergence(f"step {index + 1} uses {block['toolUse']['name']}, which was not offered")
            if "text" in block and on_text is not None:
                time.sleep(self.first_token_delay_s)
                for start in range(0, len(block["text"]), 16):  # streamed in small pieces, like a model
                    if start:
                        time.sleep(self.chunk_delay_s)
                    if first_token_ms is None:
                        first_token_ms = (time.perf_counter() - started) * 1000
                    on_text(block["text"][start : start + 16])
        return ModelResponse(
            content=content,
            stop_reason=stop_reason,
            usage=usage,
            model_id=step.get("model_id", "scripted"),
            latency_ms=(time.perf_counter() - started) * 1000,
            first_token_ms=first_token_ms,
        )

    @staticmethod
    def _check(index: int, expect: dict[str, Any], request: ModelRequest) -> None:
        def fail(what: str) -> None:
            raise ScriptDivergence(f"step {index + 1}: expected {what}")

        if "stage" in expect and expect["stage"] != request.stage:
            fail(f"stage {expect['stage']!r}, got {request.stage!r}")
        if "customer_text" in expect:
            actual = _customer_text(request.messages)
            if expect["customer_text"].lower() not in actual.lower():
                fail(f"customer text containing {expect['customer_text']!r}, got {actual!r}")
        if "tool_result" in expect:
            results = [b["toolResult"] for b in _latest_user(request.messages)["content"] if "toolResult" in b]
            names = _tool_names(request.messages)
            answered = [(names.get(r["toolUseId"]), r.get("status", "success")) for r in results]
            wanted = (expect["tool_result"], expect.get("tool_status", answered[0][1] if answered else None))
            if wanted not in answered:
                fail(f"a result of {wanted[0]} with status {wanted[1]}, got {answered}")

    @staticmethod
    def _response(index: int, step: dict[str, Any]) -> tuple[list[dict[str, Any]], str, Usage]:
        if "output" in step:  # a raw Converse response
            content = step["output"]["message"]["content"]
            stop_reason = step.get("stopReason", "end_turn")
        else:
            content = [{"text": step["text"]}] if step.get("text") else []
            uses = step.get("tool_uses") or ([step["tool_use"]] if "tool_use" in step else [])
            for n, use in enumerate(uses):
                content.append(
                    {
                        "toolUse": {
                            "toolUseId": use.get("id", f"scripted-{index + 1}-{n}"),
                            "name": use["name"],
                            "input": use.get("input", {}),
                        }
                    }
                )
            stop_reason = step.get("stop_reason", "tool_use" if uses else "end_turn")
        raw = step.get("usage", {})
        usage = Usage(
            raw.get("inputTokens", 0),
            raw.get("outputTokens", 0),
            raw.get("cacheReadInputTokens", 0),
            raw.get("cacheWriteInputTokens", 0),
        )
        return content, stop_reason, usage


def _tool_names(messages: list[dict[str, Any]]) -> dict[str, str]:
    return {
        block["toolUse"]["toolUseId"]: block["toolUse"]["name"]
        for message in messages
        if message["role"] == "assistant"
        for block in message["content"]
        if "toolUse" in block
    }
