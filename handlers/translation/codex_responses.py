"""Responses client -> Codex upstream (legacy ``codex/openai/responses``): a near passthrough.

Codex speaks the Responses API itself, so the client's body goes upstream with a few fields
forced (``stream``, ``store``, ``parallel_tool_calls``, ``include``), the ones Codex rejects
deleted (token limits, ``temperature``, ``top_p``, ``service_tier``) and the Codex instructions
rule applied (``codex_instructions.py``). Answers are the upstream events unchanged except that
``response.instructions`` is put back to what the client sent, so the client never sees the
prompt the gateway substituted.

* ``render_request(body, model, rule=…, user_agent=…)`` -> upstream body.
* ``restore_instructions(payload, client_body, upstream_body, user_agent)`` -> the event payload
  with ``response.instructions`` restored (only on created / in_progress / completed events).
* ``ResponsesFromCodex`` -> stream: each upstream event out again as ``\\nevent: …\\ndata: …\\n``.
* ``render_response(completed, client_body, upstream_body, user_agent)`` -> the non-stream object
  (the ``response`` of the ``response.completed`` event), or ``None`` when there is none.
"""

from __future__ import annotations

from typing import Any

import orjson

from handlers.translation import codex_instructions
from handlers.translation.codex_instructions import OVERRIDE_MARKER, CodexInstructions, is_opencode
from handlers.translation.gjson_values import text_of
from handlers.translation.sse import dumps, loads_upstream

_FORCED: tuple[tuple[str, Any], ...] = (
    ("stream", True),
    ("store", False),
    ("parallel_tool_calls", True),
    ("include", ["reasoning.encrypted_content"]),
)
# Codex answers 400 to token limits and sampling fields, so they never go upstream.
_DELETED = ("max_output_tokens", "max_completion_tokens", "temperature", "top_p", "service_tier")
USER_AGENT_KEY = "__cpa_user_agent"
# Events whose ``response.instructions`` the client must see as it sent them.
_RESTORED_EVENTS = frozenset({"response.created", "response.in_progress", "response.completed"})


def _input_items(body: dict[str, Any]) -> list[Any]:
    raw = body.get("input")
    if isinstance(raw, list):
        return list(raw)
    if isinstance(raw, str):
        # A bare string input is one user message, as the legacy rewrites it.
        return [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": raw}]}]
    return []


def _role(item: Any) -> str:
    return text_of(item.get("role")).lower() if isinstance(item, dict) else ""


def _system_text(item: dict[str, Any]) -> str:
    """The text parts of a system input item joined by newlines (empty texts add no newline)."""
    text = ""
    content = item.get("content")
    for part in content if isinstance(content, list) else []:
        piece = text_of(part.get("text")) if isinstance(part, dict) else ""
        if text and piece:
            text += "\n"
        text += piece
    return text


def first_text(item: Any) -> str | None:
    """``content.0.text`` of an item, None when absent (only then is no marker message added)."""
    if not isinstance(item, dict):
        return None
    content = item.get("content")
    if not isinstance(content, list) or not content or not isinstance(content[0], dict):
        return None
    if "text" not in content[0]:
        return None
    return text_of(content[0]["text"])


def render_request(
    body: dict[str, Any], model: str, *, rule: CodexInstructions | None = None, user_agent: str = ""
) -> dict[str, Any]:
    """The client's Responses body -> the Codex body (the client's key order is kept).

    ``model`` is not written: the legacy leaves the client's ``model`` in place and the executor
    sets the upstream name.
    """
    rule = rule if rule is not None else codex_instructions.current()
    out = dict(body)
    # The legacy executor smuggles the User-Agent in this key; a client-sent one is dropped too.
    out.pop(USER_AGENT_KEY, None)
    for key, value in _FORCED:
        out[key] = value
    for key in _DELETED:
        out.pop(key, None)

    has_instructions = "instructions" in out
    client_text = text_of(out.get("instructions"))
    official, instructions = rule.for_model(model, client_text, user_agent)
    items = _input_items(out)

    # Without client instructions, the first system input item stands in for them.
    extracted = False
    if not has_instructions:
        for item in items:
            if _role(item) == "system":
                client_text = _system_text(item)
                extracted = True
                break

    if official:
        out["input"] = items
        return out

    if items:
        rewritten: list[Any] = []
        first_done = False
        for item in items:
            if extracted and _role(item) == "system":
                continue
            if not first_done:
                first = first_text(item)
                if first is not None and first != OVERRIDE_MARKER:
                    rewritten.append(
                        {
                            "type": "message",
                            "role": "user",
                            "content": [
                                {"type": "input_text", "text": OVERRIDE_MARKER},
                                {"text": client_text, "type": "input_text"},
                            ],
                        }
                    )
                first_done = True
            rewritten.append(item)
        out["input"] = rewritten
    out["instructions"] = instructions
    return out


def _selected_instructions(client_body: dict[str, Any], upstream_body: dict[str, Any], user_agent: str) -> str:
    # Opencode clients get back what was sent upstream; everyone else what they sent.
    source = upstream_body if is_opencode(user_agent) else client_body
    return text_of(source.get("instructions"))


def restore_instructions(
    payload: dict[str, Any], client_body: dict[str, Any], upstream_body: dict[str, Any], user_agent: str
) -> dict[str, Any] | None:
    """A copy of the event with ``response.instructions`` restored; None when nothing changes."""
    if text_of(payload.get("type")) not in _RESTORED_EVENTS:
        return None
    response = payload.get("response")
    if not isinstance(response, dict) or "instructions" not in response:
        return None
    restored = {**response, "instructions": _selected_instructions(client_body, upstream_body, user_agent)}
    return {**payload, "response": restored}


class ResponsesFromCodex:
    """Upstream Codex events -> Responses client frames, byte-compatible with the legacy writer.

    The legacy forwards each SSE line and the handler frames it: ``\\n`` before an ``event:``
    line, ``\\n`` after every line, blank lines dropped. ``feed`` takes the event name and the
    data text (plus its decoded payload, when JSON) and returns that framing.
    """

    __slots__ = ("_client_body", "_upstream_body", "_user_agent")

    def __init__(self, client_body: dict[str, Any], upstream_body: dict[str, Any], user_agent: str = "") -> None:
        self._client_body = client_body
        self._upstream_body = upstream_body
        self._user_agent = user_agent

    def feed(self, event: str, data: str, payload: Any) -> bytes:
        out = b""
        if event:
            out += b"\nevent: " + event.encode() + b"\n"
        if not data.strip():
            return out
        lines = data.strip().encode().split(b"\n")
        if isinstance(payload, dict):
            restored = restore_instructions(payload, self._client_body, self._upstream_body, self._user_agent)
            if restored is not None:
                lines = [dumps(restored)]
        # The legacy forwards each upstream ``data:`` line as it came; a multi-line payload (which
        # the SSE parser joined) goes out as one line each again.
        return out + b"".join(b"data: " + line + b"\n" for line in lines)


def completed_event(upstream: bytes) -> dict[str, Any] | None:
    """The ``response.completed`` payload from the executor's answer.

    The Codex executor hands over that event's JSON alone; a whole SSE body is scanned line by
    line for it like the legacy executor does.
    """
    try:
        whole = loads_upstream(upstream)
    except orjson.JSONDecodeError:
        whole = None
    if isinstance(whole, dict):
        return whole if whole.get("type") == "response.completed" else None
    for line in upstream.split(b"\n"):
        if not line.startswith(b"data:"):
            continue
        try:
            payload = loads_upstream(line[5:].strip())
        except orjson.JSONDecodeError:
            continue
        if isinstance(payload, dict) and payload.get("type") == "response.completed":
            return payload
    return None


def render_response(
    completed: dict[str, Any] | None,
    client_body: dict[str, Any],
    upstream_body: dict[str, Any],
    user_agent: str = "",
) -> dict[str, Any] | None:
    """The non-stream answer: the completed event's ``response`` with instructions restored."""
    if completed is None or completed.get("type") != "response.completed":
        return None
    response = completed.get("response")
    if not isinstance(response, dict):
        return None
    if "instructions" in response:
        response = {**response, "instructions": _selected_instructions(client_body, upstream_body, user_agent)}
    return response
