"""Gemini CLI / Antigravity ``v1internal`` request envelopes built from a Gemini body (A2.13).

* ``envelope_gemini_body``: a Gemini ``generateContent`` body -> ``{"project","request","model"}``
  with the legacy's fixups: tool answers regrouped behind the call that asked for them, roles
  repaired, ``parameters`` renamed ``parametersJsonSchema``, thought-signature rules. One function
  serves both upstreams (``gemini-cli/gemini`` and ``antigravity/gemini`` differ only in the
  thought-signature rules), because the Responses-client pairs
  of both upstreams are "Responses -> Gemini body -> envelope" in the legacy too.
* ``render_responses_request``: Responses client -> Gemini CLI / Antigravity upstream.
* ``unwrap_cli_request``: a Gemini CLI client's envelope -> the Gemini body the Gemini-client
  translators read (``claude/gemini-cli``, ``codex/gemini-cli``, ``openai/gemini-cli``).
"""

from __future__ import annotations

import copy
from typing import Any

from handlers.translation.gemini_request import SKIP_SIGNATURE, safety_settings
from handlers.translation.gjson_values import array_of
from handlers.translation.model import Request
from handlers.translation.responses_upstream import render_gemini_request


class EnvelopeError(ValueError):
    """The Gemini body has no ``contents`` (the legacy then sends an empty upstream body)."""


def _regroup_tool_answers(contents: list[Any]) -> list[dict[str, Any]]:
    """Move ``functionResponse`` parts into one ``function`` content after the calls they answer.

    A model content with N function calls opens a group that waits for N answers; contents that
    carry answers are consumed (their other parts too, as in the legacy) and their answers feed
    the most recent group that can be satisfied. Answers left over at the end are dropped.
    """
    out: list[dict[str, Any]] = []
    waiting: list[int] = []  # answers still needed per open group, oldest first
    answers: list[Any] = []

    def emit(needed: int) -> None:
        taken, answers[:] = answers[:needed], answers[needed:]
        if taken:
            out.append({"parts": taken, "role": "function"})

    for content in contents:
        if not isinstance(content, dict):
            continue
        parts = content.get("parts") if isinstance(content.get("parts"), list) else []
        found = [p for p in parts if isinstance(p, dict) and "functionResponse" in p]
        if found:
            answers.extend(found)
            for index in range(len(waiting) - 1, -1, -1):
                if len(answers) >= waiting[index]:
                    emit(waiting.pop(index))
                    break
            continue
        out.append(content)
        if content.get("role") == "model":
            calls = sum(1 for p in parts if isinstance(p, dict) and "functionCall" in p)
            if calls:
                waiting.append(calls)
    for needed in waiting:
        if len(answers) >= needed:
            emit(needed)
    return out


def envelope_gemini_body(body: dict[str, Any], model: str, *, antigravity: bool) -> dict[str, Any]:
    """A Gemini body -> the ``v1internal`` envelope (the executor fills ``project``)."""
    request = copy.deepcopy(body)
    request.pop("model", None)
    if not isinstance(request.get("contents"), list):
        raise EnvelopeError("contents not found in input")
    request["contents"] = _regroup_tool_answers(request["contents"])
    if "system_instruction" in request:
        request["systemInstruction"] = request.pop("system_instruction")
    previous = ""
    for content in request["contents"]:
        role = content.get("role")
        if role not in ("user", "model"):
            # Missing or foreign roles (the regrouped "function" ones included) alternate.
            role = "model" if previous == "user" else "user"
            content["role"] = role
        previous = role
    for tool in array_of(request.get("tools")):
        declarations = tool.get("function_declarations") if isinstance(tool, dict) else None
        for declaration in declarations if isinstance(declarations, list) else []:
            if isinstance(declaration, dict) and "parameters" in declaration:
                declaration["parametersJsonSchema"] = declaration.pop("parameters")
    for content in request["contents"]:
        if content.get("role") != "model" or not isinstance(content.get("parts"), list):
            continue
        kept = []
        for part in content["parts"]:
            if not isinstance(part, dict):
                kept.append(part)
                continue
            if antigravity:
                if part.get("thought") is True:
                    continue  # Gemini on Antigravity does not need old thoughts back
                signature = part.get("thoughtSignature")
                if "functionCall" in part and (not isinstance(signature, str) or len(signature) < 50):
                    part["thoughtSignature"] = SKIP_SIGNATURE
            elif "functionCall" in part or "thoughtSignature" in part:
                part["thoughtSignature"] = SKIP_SIGNATURE
            kept.append(part)
        content["parts"] = kept
    if "safetySettings" not in request:
        request["safetySettings"] = safety_settings()
    return {"project": "", "request": request, "model": model}


def render_responses_request(req: Request, model: str, *, antigravity: bool) -> dict[str, Any]:
    """Responses client -> Gemini CLI (``gemini-cli/openai/responses``) or Antigravity upstream."""
    return envelope_gemini_body(render_gemini_request(req, model), model, antigravity=antigravity)


def unwrap_cli_request(body: dict[str, Any], model: str) -> dict[str, Any]:
    """A Gemini CLI client's ``{"model","request"}`` -> the plain Gemini body inside.

    ``model`` is written into the body and ``systemInstruction`` renamed ``system_instruction``
    (moved to the end of the object, as the legacy's set-then-delete does), which is the spelling
    the Gemini-client translators read.
    """
    inner = body.get("request")
    out: dict[str, Any] = copy.deepcopy(inner) if isinstance(inner, dict) else {}
    out["model"] = model
    if "systemInstruction" in out:
        out["system_instruction"] = out.pop("systemInstruction")
    return out
