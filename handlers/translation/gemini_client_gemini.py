"""Gemini-family pairs around a Gemini client (legacy ``gemini/gemini``, ``gemini-cli/gemini``,
``gemini/gemini-cli``).

* ``fix_gemini_request``: Gemini client -> Gemini API: the body passes with fixups (tool keys,
  roles, thought signatures, ``responseJsonSchema``, default safety settings); answers pass through.
* ``to_cli_request`` / ``unwrap_cli_response`` / ``unwrap_cli_array``: Gemini client -> Gemini CLI
  (Cloud Code ``v1internal``): the body goes inside the envelope with the CLI tool-response grouping,
  and each ``{"response": …}`` answer is unwrapped.
* ``from_cli_request`` / ``wrap_cli_chunk`` / ``wrap_cli_array``: Gemini CLI client -> Gemini API:
  the envelope is opened, and each answer is wrapped in ``{"response": …}``.

Everything takes and returns plain JSON values; raw chunk bytes are kept where the legacy copies
them verbatim (``gjson .Raw``), so passthrough answers reach the client byte for byte.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

from handlers.translation.gemini_client_common import (
    attach_safety_settings,
    normalise_roles,
    rename_key,
    rename_parameters,
    skip_model_signatures,
)
from handlers.translation.gjson_values import text_of
from handlers.translation.sse import dumps

# --- Gemini client -> Gemini API (gemini/gemini) ---------------------------------------------


def fix_gemini_request(body: dict[str, Any]) -> dict[str, Any]:
    """``ConvertGeminiRequestToGemini``: the client body with the legacy fixups, as a new object.

    Without ``contents`` only the safety settings are added. Otherwise ``functionDeclarations``
    becomes ``function_declarations`` and its ``parameters`` ``parametersJsonSchema``; missing or
    unknown roles alternate from ``user``; model parts with a call or a thought signature get the
    skip sentinel; ``generationConfig.responseSchema`` becomes ``responseJsonSchema``.
    """
    out = copy.deepcopy(body)
    if "contents" not in out:
        attach_safety_settings(out)
        return out
    tools = out.get("tools")
    if isinstance(tools, list):
        for tool in tools:
            if isinstance(tool, dict):
                rename_key(tool, "functionDeclarations", "function_declarations")
        rename_parameters(tools, "function_declarations")
    normalise_roles(out["contents"])
    skip_model_signatures(out["contents"])
    config = out.get("generationConfig")
    if isinstance(config, dict):
        rename_key(config, "responseSchema", "responseJsonSchema")
    attach_safety_settings(out)
    return out


# --- Gemini client -> Gemini CLI upstream (gemini-cli/gemini) --------------------------------


def group_tool_responses(contents: list[Any]) -> list[Any]:
    """``fixCLIToolResponse``: function answers regrouped behind the turn that called them.

    Every content holding a ``functionResponse`` part is taken out of the conversation and its
    answer parts queued; a model turn with N calls opens a group that the next N queued answers
    close, as one ``{"parts": […], "role": "function"}`` content placed where the answers
    completed it. When answers arrive, the most recent open group is tried first. Groups still
    open at the end are closed in order with what is left; unmatched answers are dropped.
    """
    out: list[Any] = []
    open_groups: list[int] = []
    queued: list[Any] = []

    def close(needed: int) -> None:
        taken = queued[:needed]
        del queued[:needed]
        parts = [part for part in taken if isinstance(part, dict)]
        if parts:
            out.append({"parts": parts, "role": "function"})

    for content in contents:
        parts = content.get("parts") if isinstance(content, dict) else None
        parts = parts if isinstance(parts, list) else []
        answers = [p for p in parts if isinstance(p, dict) and "functionResponse" in p]
        if answers:
            queued.extend(answers)
            for position in range(len(open_groups) - 1, -1, -1):
                if len(queued) >= open_groups[position]:
                    close(open_groups.pop(position))
                    break
            continue
        if not isinstance(content, dict):
            continue  # the legacy skips (and logs) a content that is not an object
        calls = sum(1 for p in parts if isinstance(p, dict) and "functionCall" in p)
        out.append(content)
        if content.get("role") == "model" and calls:
            open_groups.append(calls)
    for needed in open_groups:
        if len(queued) >= needed:
            close(needed)
    return out


def to_cli_request(body: dict[str, Any], model: str) -> dict[str, Any]:
    """``ConvertGeminiRequestToGeminiCLI``: the Gemini body inside ``{"project","request","model"}``.

    ``project`` is filled by the executor; ``model`` is the upstream model (the legacy copies the
    body's own ``model``, which Gemini clients leave out, and the executor sets it anyway). A body
    without ``contents`` is sent without the grouping: the legacy would send an empty body, which
    the upstream rejects just the same.
    """
    request = copy.deepcopy(body)
    request.pop("model", None)
    if isinstance(request.get("contents"), list):
        request["contents"] = group_tool_responses(request["contents"])
    rename_key(request, "system_instruction", "systemInstruction")
    normalise_roles(request.get("contents"))
    rename_parameters(request.get("tools"), "function_declarations")
    skip_model_signatures(request.get("contents"))
    attach_safety_settings(request)
    return {"project": "", "request": request, "model": model}


def unwrap_cli_response(payload: Any) -> Any:
    """A Gemini CLI answer -> the Gemini object inside ``response`` (the whole value without one)."""
    if isinstance(payload, dict) and "response" in payload:
        return payload["response"]
    return payload


def unwrap_cli_array(body: bytes) -> bytes:
    """A Gemini CLI ``alt=json`` stream body (a JSON array of envelopes) -> the array of their
    ``response`` objects; items without one are left out, anything but an array gives ``[]``.

    The legacy meant this but parsed an empty buffer, so it always wrote ``[]`` (twice).
    """
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return b"[]"
    items = doc if isinstance(doc, list) else []
    return dumps([item["response"] for item in items if isinstance(item, dict) and "response" in item])


# --- Gemini CLI client -> Gemini API (gemini/gemini-cli) -------------------------------------


def from_cli_request(body: dict[str, Any], model: str) -> dict[str, Any]:
    """``ConvertGeminiCLIRequestToGemini``: the ``request`` object of the envelope, fixed up.

    ``model`` is written last (in place when the inner body had one); ``systemInstruction``
    becomes ``system_instruction``; ``function_declarations[].parameters`` becomes
    ``parametersJsonSchema``; model parts get the signature sentinel; safety defaults are added.
    """
    inner = body.get("request")
    out: dict[str, Any] = copy.deepcopy(inner) if isinstance(inner, dict) else {}
    out["model"] = model or text_of(body.get("model"))
    rename_key(out, "systemInstruction", "system_instruction")
    rename_parameters(out.get("tools"), "function_declarations")
    skip_model_signatures(out.get("contents"))
    attach_safety_settings(out)
    return out


def wrap_cli_chunk(raw: bytes) -> bytes:
    """One Gemini answer (raw JSON bytes) inside the CLI envelope, spelled as the legacy writes it
    (``sjson`` fills the template ``{"response": {}}``, keeping its space)."""
    return b'{"response": ' + raw + b"}"


def wrap_cli_array(body: bytes) -> bytes:
    """A Gemini ``alt=json`` stream body (a JSON array of answers) -> the array of envelopes.

    The legacy writes nothing here (its stream translator only accepts ``data:`` lines), leaving
    the client an empty answer; a body that is not an array is passed on unchanged.
    """
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    if not isinstance(doc, list):
        return body
    return b"[" + b",".join(wrap_cli_chunk(dumps(item)) for item in doc) + b"]"
