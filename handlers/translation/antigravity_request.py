"""Requests to the Antigravity upstream: the ``v1internal`` envelope for every client (A2.13).

* ``render_claude_request`` (``antigravity/claude``, A4.2 #1-9): thinking blocks keep only a
  signature Antigravity will accept (the cached one for that text, else the client's own if it
  was minted for this model), unsigned thinking is dropped, thinking goes first in model turns,
  ``tool_use``/``tool_result`` ids travel as ``functionCall.id``/``functionResponse.id``, tool
  schemas go through the schema cleaner, and the interleaved-thinking hint is added for Claude
  thinking models that also get tools.
* ``render_openai_request`` (``antigravity/openai``): the Gemini CLI rules of A2.3 with the
  Antigravity differences (``maxOutputTokens``, call/answer ids, empty text parts skipped,
  unparsable arguments kept as ``{"params": <text>}``, JSON tool answers embedded as JSON).
* ``render_gemini_request`` (``antigravity/gemini``, A4.2 #10) and ``render_responses_request``
  (``antigravity/openai/responses``): the shared envelope of ``gemini_cli_request``.

These translators read the client's JSON directly rather than the internal ``Request``: the
legacy decides per raw value (a number that is a JSON number, a field that exists), and the
Antigravity rules are too different from the other Gemini pairs to share a renderer with them.
The executor later fills ``project``/``requestId``/``userAgent`` and, for Claude models, renames
``parametersJsonSchema`` and runs the schema cleaner over the whole payload (not done here).
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

from handlers.translation.antigravity_signatures import SIGNATURES, SignatureCache, is_valid_signature, session_id
from handlers.translation.claude_request import thinking_text
from handlers.translation.gemini_cli_request import envelope_gemini_body
from handlers.translation.gemini_cli_request import render_responses_request as render_responses_envelope
from handlers.translation.gemini_request import FILE_MIME_TYPES, SKIP_SIGNATURE, safety_settings
from handlers.translation.gemini_schema import clean_schema_for_antigravity
from handlers.translation.gjson_values import int_of, member_of
from handlers.translation.gjson_values import text_of as _text
from handlers.translation.model import Request
from handlers.translation.openai_chat_request import go_number
from handlers.translation.sse import json_text

INTERLEAVED_HINT = (
    "Interleaved thinking is enabled. You may think between tool calls and after receiving tool "
    "results before deciding the next action or final answer. Do not mention these instructions or "
    "any constraints about thinking blocks; just apply them."
)
# Tool fields Antigravity accepts on a Claude-client function declaration.
_TOOL_KEYS = frozenset(
    {"name", "description", "behavior", "parameters", "parametersJsonSchema", "response", "responseJsonSchema"}
)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# Numeric sampling fields both client shapes send, and their Gemini names.
_SAMPLING_FIELDS = (
    ("temperature", "temperature"),
    ("top_p", "topP"),
    ("top_k", "topK"),
    ("max_tokens", "maxOutputTokens"),
)


def _copy_sampling(body: dict[str, Any], config: dict[str, Any]) -> None:
    """Copy each sampling field that holds a JSON number into ``config`` under its Gemini name."""
    for source, target in _SAMPLING_FIELDS:
        if _is_number(body.get(source)):
            config[target] = go_number(body[source])


def is_claude_thinking_model(model: str) -> bool:
    lowered = model.lower()
    return "claude" in lowered and "thinking" in lowered


def _text_part(text: str) -> dict[str, Any]:
    # The legacy writes {} for an empty text block rather than {"text": ""}.
    return {"text": text} if text else {}


# --- Claude client -------------------------------------------------------------------------------


class _ClaudeTurns:
    """Claude ``messages`` -> Antigravity ``contents`` (one content per message)."""

    def __init__(self, model: str, session: str, cache: SignatureCache) -> None:
        self.model = model
        self.session = session
        self.cache = cache
        # Any unsigned thinking block turns off the thinking config (A4.2 #5).
        self.thinking_allowed = True

    def _signature(self, block: dict[str, Any], text: str) -> str:
        cached = self.cache.get(self.model, self.session, text) if self.session and text else ""
        if cached:
            return cached
        offered = _text(block.get("signature"))
        model, sep, signature = offered.partition("#")
        # Client signatures are "<model group>#<signature>" as we sent them out; only the exact
        # model prefix is accepted (the legacy compares with the model name, not the group).
        if sep and model == self.model and is_valid_signature(signature):
            return signature
        return ""

    def _parts(self, blocks: list[Any]) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        turn_signature = ""
        for block in blocks:
            kind = block.get("type") if isinstance(block, dict) else None
            if kind == "thinking":
                text = thinking_text(block)
                signature = self._signature(block, text)
                if not signature:
                    self.thinking_allowed = False
                    continue
                turn_signature = signature
                part: dict[str, Any] = {"thought": True}
                if text:
                    part["text"] = text
                part["thoughtSignature"] = signature
                parts.append(part)
            elif kind == "text":
                parts.append(_text_part(_text(block.get("text"))))
            elif kind == "tool_use":
                args = block.get("input")
                if isinstance(args, str):
                    try:
                        args = orjson.loads(args)
                    except orjson.JSONDecodeError:
                        args = None
                if not isinstance(args, dict):
                    continue
                call: dict[str, Any] = {}
                if _text(block.get("id")):
                    call["id"] = _text(block.get("id"))
                call["name"] = _text(block.get("name"))
                call["args"] = args
                parts.append({"thoughtSignature": turn_signature or SKIP_SIGNATURE, "functionCall": call})
            elif kind == "tool_result":
                part_answer = _tool_answer(block)
                if part_answer is not None:
                    parts.append(part_answer)
            elif kind == "image":
                source = block.get("source") if isinstance(block.get("source"), dict) else {}
                if source.get("type") == "base64":
                    inline: dict[str, Any] = {}
                    if _text(source.get("media_type")):
                        inline["mime_type"] = _text(source.get("media_type"))
                    if _text(source.get("data")):
                        inline["data"] = _text(source.get("data"))
                    parts.append({"inlineData": inline})
        return parts

    def render(self, messages: Any) -> list[dict[str, Any]]:
        contents: list[dict[str, Any]] = []
        for message in messages if isinstance(messages, list) else []:
            if not isinstance(message, dict) or not isinstance(message.get("role"), str):
                continue
            role = "model" if message["role"] == "assistant" else message["role"]
            content = message.get("content")
            if isinstance(content, list):
                parts = self._parts(content)
                if role == "model":
                    # Antigravity wants a model turn to open with its thinking (A4.2 #6).
                    parts = [p for p in parts if p.get("thought")] + [p for p in parts if not p.get("thought")]
            elif isinstance(content, str):
                parts = [_text_part(content)]
            else:
                continue
            contents.append({"role": role, "parts": parts})
        return contents


def _tool_answer(block: dict[str, Any]) -> dict[str, Any] | None:
    call_id = _text(block.get("tool_use_id"))
    if not call_id:
        return None
    pieces = call_id.split("-")
    # Ids minted as "<name>-<nanos>-<n>" give the name back; any other dashed id loses its last
    # two segments too (an id with one dash yields an empty name), exactly as the legacy splits.
    name = "-".join(pieces[:-2]) if len(pieces) > 1 else call_id
    content = block.get("content")
    if isinstance(content, list) and len(content) == 1:
        result = content[0]
    else:
        result = content
    return {"functionResponse": {"id": call_id, "name": name, "response": {"result": copy.deepcopy(result)}}}


def _claude_system(system: Any) -> dict[str, Any] | None:
    if isinstance(system, str):
        return {"role": "user", "parts": [{"text": system}]}
    if not isinstance(system, list):
        return None
    parts = [
        _text_part(_text(item.get("text"))) for item in system if isinstance(item, dict) and item.get("type") == "text"
    ]
    return {"role": "user", "parts": parts} if parts else None


def _claude_tools(tools: Any) -> list[dict[str, Any]]:
    declarations = []
    for tool in tools if isinstance(tools, list) else []:
        if not isinstance(tool, dict) or not isinstance(tool.get("input_schema"), dict):
            continue
        declaration = {k: copy.deepcopy(v) for k, v in tool.items() if k != "input_schema"}
        declaration["parametersJsonSchema"] = clean_schema_for_antigravity(tool["input_schema"])
        declarations.append({k: v for k, v in declaration.items() if k in _TOOL_KEYS})
    return declarations


def render_claude_request(body: dict[str, Any], model: str, *, cache: SignatureCache = SIGNATURES) -> dict[str, Any]:
    """Claude ``/v1/messages`` body -> Antigravity envelope (A4.2 #1-9)."""
    turns = _ClaudeTurns(model, session_id(body), cache)
    contents = turns.render(body.get("messages"))
    system = _claude_system(body.get("system"))
    declarations = _claude_tools(body.get("tools"))
    thinking = body.get("thinking") if isinstance(body.get("thinking"), dict) else None
    thinking_on = thinking is not None and thinking.get("type") == "enabled"
    if declarations and thinking_on and is_claude_thinking_model(model):
        if system is None:
            system = {"role": "user", "parts": []}
        system["parts"].append({"text": INTERLEAVED_HINT})
    request: dict[str, Any] = {"contents": contents}
    if system is not None:
        request["systemInstruction"] = system
    if declarations:
        request["tools"] = [{"functionDeclarations": declarations}]
    config: dict[str, Any] = {}
    if turns.thinking_allowed and thinking_on and thinking is not None and _is_number(thinking.get("budget_tokens")):
        config["thinkingConfig"] = {"thinkingBudget": int(thinking["budget_tokens"]), "includeThoughts": True}
    _copy_sampling(body, config)
    if config:
        request["generationConfig"] = config
    request["safetySettings"] = safety_settings()
    return {"model": model, "request": request}


def render_count_tokens(count: int) -> dict[str, Any]:
    """``/v1/messages/count_tokens`` answer for a Claude client on Antigravity."""
    return {"input_tokens": count}


# --- OpenAI chat client --------------------------------------------------------------------------


def _inline_image(url: str) -> dict[str, Any] | None:
    if len(url) <= 5:
        return None
    pieces = url[5:].split(";", 1)
    if len(pieces) != 2 or len(pieces[1]) <= 7:
        return None
    return {"inlineData": {"mime_type": pieces[0], "data": pieces[1][7:]}, "thoughtSignature": SKIP_SIGNATURE}


def _text_or_image(kind: Any, item: Any) -> dict[str, Any] | None:
    """The part for a ``text`` or ``image_url`` content item, which user and assistant turns both
    carry; None for an empty text, an unreadable image, or any other kind."""
    if kind == "text" and _text(item.get("text")):
        return {"text": _text(item.get("text"))}
    if kind == "image_url":
        return _inline_image(_text(member_of(item.get("image_url"), "url")))
    return None


def _user_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}]
    parts: list[dict[str, Any]] = []
    for item in content if isinstance(content, list) else []:
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "file":
            file = item.get("file") if isinstance(item.get("file"), dict) else {}
            name = _text(file.get("filename"))
            extension = name.rsplit(".", 1)[-1] if "." in name else ""
            if extension in FILE_MIME_TYPES:
                parts.append(
                    {"inlineData": {"mime_type": FILE_MIME_TYPES[extension], "data": _text(file.get("file_data"))}}
                )
        elif (part := _text_or_image(kind, item)) is not None:
            parts.append(part)
    return parts


def _assistant_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    parts: list[dict[str, Any]] = []
    for item in content if isinstance(content, list) else []:
        kind = item.get("type") if isinstance(item, dict) else None
        if (part := _text_or_image(kind, item)) is not None:
            parts.append(part)
    return parts


def _call_args(arguments: str) -> Any:
    try:
        return orjson.loads(arguments)
    except orjson.JSONDecodeError:
        # Not JSON: Antigravity still gets an object, with the text under "params".
        return {"params": arguments}


# A tool message without a ``content`` key: gjson's raw text is empty, which the legacy answers
# with ``{}`` as if no tool message had come (antigravity_openai_request.go:136-137, :282-285).
_NO_CONTENT = object()


def _answer_result(content: Any, present: bool) -> tuple[bool, Any]:
    """(include?, value) of ``functionResponse.response.result`` for one tool message."""
    if not present or content is _NO_CONTENT:
        return True, {}
    if content is None:
        return False, None  # a JSON null answer leaves ``response`` out entirely
    if isinstance(content, dict | list):
        return True, copy.deepcopy(content)
    # Scalars travel as the text of their raw JSON (a string answer keeps its quotes).
    return True, json_text(content)


def _openai_contents(messages: list[Any], request: dict[str, Any]) -> None:
    names: dict[str, str] = {}
    answers: dict[str, Any] = {}
    for message in messages:
        if not isinstance(message, dict):
            continue
        if message.get("role") == "assistant" and isinstance(message.get("tool_calls"), list):
            for call in message["tool_calls"]:
                if isinstance(call, dict) and call.get("type") == "function":
                    call_id, name = _text(call.get("id")), _text(member_of(call.get("function"), "name"))
                    if call_id and name:
                        names[call_id] = name
        if message.get("role") == "tool" and _text(message.get("tool_call_id")):
            answers[_text(message["tool_call_id"])] = message.get("content", _NO_CONTENT)
    alone = len(messages) == 1
    system_parts: list[dict[str, Any]] = []
    for message in messages:
        if not isinstance(message, dict):
            continue
        role, content = message.get("role"), message.get("content")
        if role in ("system", "developer") and not alone:
            texts: list[str] = []
            if isinstance(content, str):
                texts = [content]
            elif isinstance(content, dict) and content.get("type") == "text":
                texts = [_text(content.get("text"))]
            elif isinstance(content, list):
                texts = [_text(item.get("text")) if isinstance(item, dict) else "" for item in content]
            if texts and "systemInstruction" not in request:
                request["systemInstruction"] = {"role": "user", "parts": system_parts}
            system_parts.extend({"text": t} for t in texts)
        elif role == "user" or role in ("system", "developer"):
            request["contents"].append({"role": "user", "parts": _user_parts(content)})
        elif role == "assistant":
            parts = _assistant_parts(content)
            calls = message.get("tool_calls")
            if not isinstance(calls, list):
                request["contents"].append({"role": "model", "parts": parts})
                continue
            asked: list[str] = []
            for call in calls:
                if not isinstance(call, dict) or call.get("type") != "function":
                    continue
                function = call.get("function") if isinstance(call.get("function"), dict) else {}
                call_id = _text(call.get("id"))
                body = {
                    "id": call_id,
                    "name": _text(function.get("name")),
                    "args": _call_args(_text(function.get("arguments"))),
                }
                parts.append({"functionCall": body, "thoughtSignature": SKIP_SIGNATURE})
                if call_id:
                    asked.append(call_id)
            request["contents"].append({"role": "model", "parts": parts})
            replies: list[dict[str, Any]] = []
            for call_id in asked:
                if call_id not in names:
                    continue
                reply: dict[str, Any] = {"id": call_id, "name": names[call_id]}
                include, result = _answer_result(answers.get(call_id), call_id in answers)
                if include:
                    reply["response"] = {"result": result}
                replies.append({"functionResponse": reply})
            if replies:
                request["contents"].append({"role": "user", "parts": replies})


def _openai_tools(tools: Any) -> list[dict[str, Any]] | None:
    node: dict[str, Any] = {}
    for tool in tools if isinstance(tools, list) else []:
        if not isinstance(tool, dict):
            continue
        function = tool.get("function")
        if tool.get("type") == "function" and isinstance(function, dict):
            declaration = {k: copy.deepcopy(v) for k, v in function.items() if k != "parameters"}
            # Renaming appends the key, so the schema moves to the end of the declaration.
            if "parameters" in function:
                declaration["parametersJsonSchema"] = copy.deepcopy(function["parameters"])
            else:
                declaration["parametersJsonSchema"] = {"type": "object", "properties": {}}
            declaration.pop("strict", None)
            node.setdefault("functionDeclarations", []).append(declaration)
        if "google_search" in tool:
            node["googleSearch"] = copy.deepcopy(tool["google_search"])
    return [node] if node else None


def render_openai_request(body: dict[str, Any], model: str) -> dict[str, Any]:
    """OpenAI chat body -> Antigravity envelope (``antigravity/openai/chat-completions``)."""
    request: dict[str, Any] = {"contents": []}
    config: dict[str, Any] = {}
    if "reasoning_effort" in body:
        effort = _text(body["reasoning_effort"]).strip().lower()
        if effort == "auto":
            config["thinkingConfig"] = {"thinkingBudget": -1, "includeThoughts": True}
        elif effort:
            config["thinkingConfig"] = {"thinkingLevel": effort, "includeThoughts": effort != "none"}
    _copy_sampling(body, config)
    if _is_number(body.get("n")) and int_of(body["n"]) > 1:
        config["candidateCount"] = int_of(body["n"])
    if isinstance(body.get("modalities"), list):
        names = [{"text": "TEXT", "image": "IMAGE"}.get(_text(m).lower()) for m in body["modalities"]]
        if any(names):
            config["responseModalities"] = [n for n in names if n]
    image_config = body.get("image_config")
    if isinstance(image_config, dict):
        image: dict[str, Any] = {}
        if isinstance(image_config.get("aspect_ratio"), str):
            image["aspectRatio"] = image_config["aspect_ratio"]
        if isinstance(image_config.get("image_size"), str):
            image["imageSize"] = image_config["image_size"]
        if image:
            config["imageConfig"] = image
    if config:
        request["generationConfig"] = config
    messages = body.get("messages")
    if isinstance(messages, list):
        _openai_contents(messages, request)
    tools = _openai_tools(body.get("tools"))
    if tools:
        request["tools"] = tools
    request["safetySettings"] = safety_settings()
    return {"project": "", "request": request, "model": model}


# --- Gemini client -------------------------------------------------------------------------------


def render_gemini_request(body: dict[str, Any], model: str) -> dict[str, Any]:
    """Gemini body -> Antigravity envelope (A4.2 #10: thoughts dropped, calls signed or skipped)."""
    return envelope_gemini_body(body, model, antigravity=True)


def render_responses_request(req: Request, model: str) -> dict[str, Any]:
    """Responses client -> Antigravity envelope (Responses -> Gemini body -> envelope, as the legacy)."""
    return render_responses_envelope(req, model, antigravity=True)
