"""Gemini requests: client body -> ``Request`` and ``Request`` -> Gemini upstream body.

* ``parse_request``: client body -> ``Request`` (what the Gemini->Claude pair, A2.7, reads).
* ``render_request``: ``Request`` -> Gemini body, with the OpenAI-chat-client rules (A2.3) and the
  Claude-client rules (A2.5); each rule is marked with its pair. ``render_cli_request`` is the
  same body inside the Gemini CLI envelope.
* ``render_count_tokens``: the ``countTokens`` answer.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import orjson

from handlers.translation.gjson_values import array_of, int_of, text_of
from handlers.translation.mime_types import FILE_MIME_TYPES
from handlers.translation.model import (
    FilePart,
    Format,
    ImagePart,
    Message,
    Part,
    Request,
    Role,
    TextPart,
    ThinkingConfig,
    ThinkingMode,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)
from handlers.translation.openai_chat_request import go_number
from handlers.translation.sse import json_text

SKIP_SIGNATURE = "skip_thought_signature_validator"

# gemini/common/safety.go: attached to every translated request (A2.3, golden 11).
SAFETY_SETTINGS: tuple[tuple[str, str], ...] = (
    ("HARM_CATEGORY_HARASSMENT", "OFF"),
    ("HARM_CATEGORY_HATE_SPEECH", "OFF"),
    ("HARM_CATEGORY_SEXUALLY_EXPLICIT", "OFF"),
    ("HARM_CATEGORY_DANGEROUS_CONTENT", "OFF"),
    ("HARM_CATEGORY_CIVIC_INTEGRITY", "BLOCK_NONE"),
)

_tool_id_counter = itertools.count(1)


def synthetic_tool_id(name: str) -> str:
    """``<name>-<unix nanoseconds>-<process counter>``, the id Gemini-sourced tool calls get (A2.16)."""
    return f"{name}-{time.time_ns()}-{next(_tool_id_counter)}"


def safety_settings() -> list[dict[str, str]]:
    return [{"category": category, "threshold": threshold} for category, threshold in SAFETY_SETTINGS]


def json_value(text: str | None) -> Any:
    """Tool-call argument text -> JSON value; empty or unparsable text becomes ``{}`` (A2.3)."""
    if not text:
        return {}
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}


_raw_text = json_text


# --- client request -> internal --------------------------------------------------------------

_GEMINI_KNOWN_FIELDS = frozenset(
    {"model", "contents", "systemInstruction", "system_instruction", "generationConfig", "tools", "tool_config",
     "toolConfig"}
)
_CHOICE_MODES = {"AUTO": "auto", "NONE": "none", "ANY": "required"}


def system_instruction(body: dict[str, Any]) -> Any:
    """The client's system instruction under either spelling; ``systemInstruction`` wins.

    Gemini CLI and google-genai send the camelCase key, REST examples the snake_case one. The
    legacy Gemini->Claude and Gemini->Codex translators read only ``system_instruction`` and so
    drop Gemini CLI's whole system prompt; reading both (as the Gemini->OpenAI pair always did)
    is a deliberate deviation.
    """
    return _either(body, "systemInstruction", "system_instruction")


def _either(obj: dict[str, Any], camel: str, snake: str) -> Any:
    """A Gemini field under either spelling, camelCase first (see ``system_instruction``): the
    official clients send ``inlineData``/``mimeType``/``fileData``/``toolConfig``, which the
    legacy Gemini->Claude translator does not read (docs/compatibility.md rows 19a, 19f)."""
    return obj[camel] if camel in obj else obj.get(snake)


def declaration_schema(declaration: dict[str, Any]) -> tuple[bool, Any]:
    """Whether a function declaration has a parameter schema, and the schema: ``parameters``, else
    ``parametersJsonSchema``, else ``parameters_json_schema``, which google-genai sends in
    snake_case and the legacy does not read (the tool would reach a non-Gemini upstream without its
    schema: compatibility row 19e)."""
    for key in ("parameters", "parametersJsonSchema", "parameters_json_schema"):
        if key in declaration:
            return True, declaration[key]
    return False, None


def _number(value: Any) -> int | float | None:
    return go_number(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


_THINKING_SPELLINGS = (("thinkingLevel", "thinking_level"), ("thinkingBudget", "thinking_budget"),
                      ("includeThoughts", "include_thoughts"))


def thinking_config(generation_config: Any) -> dict[str, Any] | None:
    """A Gemini client's ``thinkingConfig`` with camelCase keys.

    google-genai writes ``thinking_config`` / ``thinking_budget`` / ``include_thoughts`` (the REST
    API takes both spellings); the legacy reads only ``thinkingBudget`` and ``thinkingLevel``, so
    the SDK's budget was lost (docs/compatibility.md). camelCase wins when both are present.
    """
    if not isinstance(generation_config, dict):
        return None
    raw = generation_config.get("thinkingConfig", generation_config.get("thinking_config"))
    if not isinstance(raw, dict):
        return None
    out = dict(raw)
    for camel, snake in _THINKING_SPELLINGS:
        if camel not in out and snake in out:
            out[camel] = out[snake]
    return out


def _gemini_thinking(config: Any) -> ThinkingConfig | None:
    if not isinstance(config, dict):
        return None
    if "thinkingLevel" in config:
        return ThinkingConfig(ThinkingMode.LEVEL, level=str(config["thinkingLevel"] or ""))
    if "thinkingBudget" in config:
        # gjson Int() (claude_gemini_request.go:138): "300" is 300, as the Gemini -> OpenAI pair reads it.
        return ThinkingConfig(ThinkingMode.BUDGET, budget=int_of(config["thinkingBudget"]))
    if config.get("includeThoughts") is True or config.get("include_thoughts") is True:
        return ThinkingConfig(ThinkingMode.AUTO, budget=-1)
    return None


def _gemini_client_part(part: dict[str, Any], role: Role) -> Part | None:
    # The first matching key wins, in the order the legacy Gemini->Claude translator checks them.
    if "text" in part:
        return TextPart(part["text"] if isinstance(part["text"], str) else json_text(part["text"]))
    call = part.get("functionCall")
    if isinstance(call, dict) and role is Role.ASSISTANT:
        args = call.get("args")
        return ToolCallPart("", str(call.get("name") or ""), json_text(args) if isinstance(args, dict) else None)
    answer = part.get("functionResponse")
    if isinstance(answer, dict):
        response = answer.get("response")
        if isinstance(response, dict) and "result" in response:
            return ToolResultPart("", response["result"])
        return ToolResultPart("", response if "response" in answer else "")
    inline = _either(part, "inlineData", "inline_data")
    if isinstance(inline, dict):
        mime = _either(inline, "mimeType", "mime_type")
        return ImagePart(media_type=text_of(mime), data=text_of(inline.get("data")))
    file = _either(part, "fileData", "file_data")
    if isinstance(file, dict):
        text = f"File: {text_of(_either(file, 'fileUri', 'file_uri'))}"
        if "mimeType" in file or "mime_type" in file:
            text += f" (Type: {text_of(_either(file, 'mimeType', 'mime_type'))})"
        return TextPart(text)
    return None


def parse_request(body: dict[str, Any]) -> Request:
    """Client ``generateContent`` body -> ``Request`` (streaming is decided by the URL, not here)."""
    req = Request(source=Format.GEMINI, model=str(body.get("model") or ""))
    config = body.get("generationConfig") if isinstance(body.get("generationConfig"), dict) else {}
    max_tokens = _number(config.get("maxOutputTokens"))
    # Int() saturates at the int64 bounds (claude_gemini_request.go:96): 1e300 is no encoding error.
    req.max_tokens = None if max_tokens is None else int_of(max_tokens)
    req.temperature, req.top_p, req.top_k = (_number(config.get(k)) for k in ("temperature", "topP", "topK"))
    if isinstance(config.get("candidateCount"), int):
        req.n = config["candidateCount"]
    stops = config.get("stopSequences")
    if isinstance(stops, list):
        req.stop = [s if isinstance(s, str) else json_text(s) for s in stops] or None
    req.thinking = _gemini_thinking(thinking_config(config))
    system = system_instruction(body)
    if isinstance(system, dict) and isinstance(system.get("parts"), list):
        texts = [p["text"] for p in system["parts"] if isinstance(p, dict) and "text" in p]
        req.messages.append(Message(Role.SYSTEM, [TextPart(t if isinstance(t, str) else json_text(t)) for t in texts]))
    for content in array_of(body.get("contents")):
        if not isinstance(content, dict):
            continue
        role = Role.ASSISTANT if content.get("role") == "model" else Role.USER
        parts = [_gemini_client_part(p, role) for p in array_of(content.get("parts")) if isinstance(p, dict)]
        req.messages.append(Message(role, [p for p in parts if p is not None]))
    for tool in array_of(body.get("tools")):
        for decl in array_of(tool.get("functionDeclarations")) if isinstance(tool, dict) else []:
            if isinstance(decl, dict):
                _, schema = declaration_schema(decl)
                req.tools.append(
                    Tool(str(decl.get("name") or ""), str(decl.get("description") or ""), schema, raw=decl)
                )
    tool_config = _either(body, "toolConfig", "tool_config")
    calling = _either(tool_config, "functionCallingConfig", "function_calling_config") \
        if isinstance(tool_config, dict) else None
    if not isinstance(calling, dict):
        calling = {}
    # gjson String() of the mode: a non-string mode matches no case instead of failing the lookup.
    mode = text_of(calling.get("mode"))
    if mode in _CHOICE_MODES:
        req.tool_choice = ToolChoice(_CHOICE_MODES[mode], raw=calling)
    req.extra = {k: v for k, v in body.items() if k not in _GEMINI_KNOWN_FIELDS}
    return req


def render_count_tokens(count: int) -> dict[str, Any]:
    """``countTokens`` answer for Gemini and Gemini CLI clients (golden 30).

    Reference A1 says the Gemini CLI form is wrapped in ``response``; every ``*_gemini-cli``
    response file at 9b72ea9ef returns this same bare object, and the code is what ships.
    """
    return {"totalTokens": count, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": count}]}


# --- internal -> upstream request ------------------------------------------------------------


def _inline_data(url: str) -> dict[str, Any] | None:
    # A2.3: the URL after "data:" is split once on ";" and "base64," is skipped by position.
    if len(url) <= 5:
        return None
    pieces = url[5:].split(";", 1)
    if len(pieces) != 2 or len(pieces[1]) <= 7:
        return None
    return {"mime_type": pieces[0], "data": pieces[1][7:]}


def _inline_image(url: str) -> dict[str, Any] | None:
    data = _inline_data(url)
    return None if data is None else {"inlineData": data, "thoughtSignature": SKIP_SIGNATURE}


def _openai_parts(message: Message, *, files: bool, keep_empty: bool) -> list[dict[str, Any]]:
    if message.plain:
        text = message.text()
        return [{"text": text}]
    parts: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            if part.text or keep_empty:
                parts.append({"text": part.text})
        elif isinstance(part, ImagePart):
            image = _inline_image(part.url)
            if image is not None:
                parts.append(image)
        elif isinstance(part, FilePart) and files:
            extension = part.filename.rsplit(".", 1)[-1] if "." in part.filename else ""
            mime = FILE_MIME_TYPES.get(extension)
            if mime is not None:
                parts.append({"inlineData": {"mime_type": mime, "data": part.file_data}})
    return parts


def _render_openai_contents(req: Request, out: dict[str, Any], *, cli: bool) -> None:
    """OpenAI chat client -> Gemini messages (A2.3, goldens 8-9).

    The Gemini CLI variant names the key ``systemInstruction`` and keeps empty text parts.
    """
    system_key = "systemInstruction" if cli else "system_instruction"
    call_names: dict[str, str] = {}
    results: dict[str, str] = {}
    for message in req.messages:
        for part in message.parts:
            if isinstance(part, ToolCallPart) and message.role is Role.ASSISTANT and part.id and part.name:
                call_names[part.id] = part.name
            if isinstance(part, ToolResultPart) and message.role is Role.TOOL and part.tool_call_id:
                results[part.tool_call_id] = "" if part.content is None else _raw_text(part.content)
    alone = len(req.messages) == 1
    system_parts: list[dict[str, Any]] = []
    for message in req.messages:
        if message.role in (Role.SYSTEM, Role.DEVELOPER) and not alone:
            texts = message.system_texts
            # The OpenAI reading opens system_instruction only for a message it found text in.
            opens = texts is None or bool(texts)
            if texts is None:
                texts = [p.text for p in message.parts if isinstance(p, TextPart)]
            if opens and not system_parts:
                out[system_key] = {"role": "user", "parts": system_parts}
            system_parts.extend({"text": text} for text in texts)
        elif message.role in (Role.USER, Role.SYSTEM, Role.DEVELOPER):
            out["contents"].append({"role": "user", "parts": _openai_parts(message, files=True, keep_empty=cli)})
        elif message.role is Role.ASSISTANT:
            parts = _openai_parts(message, files=False, keep_empty=cli)
            answered: list[dict[str, Any]] = []
            for call in (p for p in message.parts if isinstance(p, ToolCallPart)):
                parts.append(
                    {
                        "functionCall": {"name": call.name, "args": json_value(call.arguments)},
                        "thoughtSignature": SKIP_SIGNATURE,
                    }
                )
                if call.id and call.id in call_names:
                    # The result travels as a STRING holding the tool message's raw JSON (sjson
                    # SetBytes stringifies), "{}" when the tool never answered.
                    result = results.get(call.id) or "{}"
                    answered.append({"functionResponse": {"name": call_names[call.id], "response": {"result": result}}})
            out["contents"].append({"role": "model", "parts": parts})
            if answered:
                out["contents"].append({"role": "user", "parts": answered})
    if system_parts == [] and system_key in out:
        del out[system_key]


def _openai_tools(req: Request) -> list[dict[str, Any]] | None:
    node: dict[str, Any] = {}
    for tool in req.tools:
        raw = tool.raw or {}
        if tool.kind == "function" and isinstance(raw.get("function"), dict):
            function = raw["function"]
            # util.RenameKey appends the new key, so the schema moves to the end of the object.
            declaration = {k: v for k, v in function.items() if k != "parameters"}
            declaration["parametersJsonSchema"] = function.get("parameters", {"type": "object", "properties": {}})
            declaration.pop("strict", None)
            node.setdefault("functionDeclarations", []).append(declaration)
        if "google_search" in raw:
            node["googleSearch"] = raw["google_search"]
    return [node] if node else None


def _drop_uri_format(value: Any) -> Any:
    """A2.5 pre-pass: ``"url":{"type":"string","format":"uri",...}`` loses its ``format``."""
    if isinstance(value, list):
        return [_drop_uri_format(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key == "url" and isinstance(item, dict) and len(item) > 2:
            head = list(item.items())[:2]
            if head == [("type", "string"), ("format", "uri")]:
                item = {k: v for k, v in item.items() if k != "format"}
        out[key] = _drop_uri_format(item)
    return out


def _claude_image(part: ImagePart) -> dict[str, Any] | None:
    if part.data:
        return {"inlineData": {"mime_type": part.media_type or "application/octet-stream", "data": part.data}}
    data = _inline_data(part.url) if part.url.startswith("data:") else None
    return None if data is None else {"inlineData": data}


def _render_claude_contents(req: Request, out: dict[str, Any], *, cli: bool) -> None:
    """Claude client -> Gemini messages (A2.5, golden 12); Gemini CLI says ``systemInstruction``."""
    system_key = "systemInstruction" if cli else "system_instruction"
    for message in req.messages:
        if message.role is Role.SYSTEM:
            if message.plain:
                text = message.text()
                out[system_key] = {"parts": [{"text": text}]}
            else:
                texts = [{"text": p.text} for p in message.parts if isinstance(p, TextPart)]
                if texts:
                    out[system_key] = {"role": "user", "parts": texts}
            continue
        parts: list[dict[str, Any]] = []
        for part in message.parts:
            if isinstance(part, TextPart):
                parts.append({"text": part.text})
            elif isinstance(part, ImagePart):
                # The legacy's Claude -> Gemini translators map no images (A2.5); a base64 or
                # data-URL image goes as inline data here (compatibility row 19t). Gemini cannot
                # fetch a remote URL, which stays dropped.
                image = _claude_image(part)
                if image is not None:
                    parts.append(image)
            elif isinstance(part, ToolCallPart):
                args = json_value(part.arguments) if part.arguments else None
                if isinstance(args, str):
                    # gjson String() of an ``input`` written as a JSON string is its text, which the
                    # legacy then parses: '"{\"a\":1}"' gives the object {"a":1}; text that is not
                    # a JSON object drops the call.
                    try:
                        args = orjson.loads(args)
                    except orjson.JSONDecodeError:
                        args = None
                if isinstance(args, dict):
                    parts.append(
                        {"thoughtSignature": SKIP_SIGNATURE, "functionCall": {"name": part.name, "args": args}}
                    )
            elif isinstance(part, ToolResultPart) and part.tool_call_id:
                # The function name is recovered from ids minted as "<name>-<nanos>-<n>".
                pieces = part.tool_call_id.split("-")
                name = "-".join(pieces[:-1]) if len(pieces) > 1 else part.tool_call_id
                result = "null" if part.content_null else "" if part.content is None else _raw_text(part.content)
                parts.append({"functionResponse": {"name": name, "response": {"result": result}}})
        role = "model" if message.role is Role.ASSISTANT else "user"
        out["contents"].append({"role": role, "parts": parts})


def _claude_tools(req: Request) -> list[dict[str, Any]] | None:
    declarations = []
    for tool in req.tools:
        raw = tool.raw or {}
        schema = raw.get("input_schema")
        if not isinstance(schema, dict):
            continue
        dropped = ("input_schema", "strict", "input_examples", "type", "cache_control")
        declaration = {k: v for k, v in raw.items() if k not in dropped}
        declaration["parametersJsonSchema"] = _drop_uri_format(schema)
        declarations.append(declaration)
    return [{"functionDeclarations": declarations}] if declarations else None


def _generation_config(req: Request) -> dict[str, Any]:
    config: dict[str, Any] = {}
    thinking = req.thinking
    if thinking is not None and req.source is Format.OPENAI and thinking.mode is ThinkingMode.LEVEL:
        effort = thinking.level.strip().lower()
        if effort == "auto":
            config["thinkingConfig"] = {"thinkingBudget": -1, "includeThoughts": True}
        elif effort:
            config["thinkingConfig"] = {"thinkingLevel": effort, "includeThoughts": effort != "none"}
    elif thinking is not None and req.source is Format.CLAUDE and thinking.mode is ThinkingMode.BUDGET:
        # A2.5: only an explicit budget is forwarded; enabled-without-budget and disabled are not.
        config["thinkingConfig"] = {"thinkingBudget": thinking.budget, "includeThoughts": True}
    if req.temperature is not None:
        config["temperature"] = req.temperature
    if req.top_p is not None:
        config["topP"] = req.top_p
    if req.top_k is not None:
        config["topK"] = req.top_k
    if req.source is Format.OPENAI:
        if req.n is not None and req.n > 1:
            config["candidateCount"] = req.n
        modalities = req.extra.get("modalities")
        if isinstance(modalities, list):
            names = [{"text": "TEXT", "image": "IMAGE"}.get(str(m).lower()) for m in modalities]
            if any(names):
                config["responseModalities"] = [n for n in names if n]
        image_config = req.extra.get("image_config")
        if isinstance(image_config, dict):
            image: dict[str, Any] = {}
            if isinstance(image_config.get("aspect_ratio"), str):
                image["aspectRatio"] = image_config["aspect_ratio"]
            if isinstance(image_config.get("image_size"), str):
                image["imageSize"] = image_config["image_size"]
            if image:
                config["imageConfig"] = image
    return config


def _render_body(req: Request, out: dict[str, Any], *, cli: bool) -> dict[str, Any]:
    if req.source is Format.CLAUDE:
        _render_claude_contents(req, out, cli=cli)
        tools = _claude_tools(req)
        if tools:
            out["tools"] = tools
        config = _generation_config(req)
        if config:
            out["generationConfig"] = config
    else:
        config = _generation_config(req)
        if config:
            out["generationConfig"] = config
        _render_openai_contents(req, out, cli=cli)
        tools = _openai_tools(req)
        if tools:
            out["tools"] = tools
    out["safetySettings"] = safety_settings()
    return out


def render_request(req: Request, model: str) -> dict[str, Any]:
    """``Request`` -> Gemini ``generateContent`` body (``model`` is stripped later by the executor)."""
    return _render_body(req, {"contents": [], "model": model}, cli=False)


def render_cli_request(req: Request, model: str) -> dict[str, Any]:
    """``Request`` -> Gemini CLI ``v1internal`` envelope (A2.13); the executor fills ``project``.

    The ``gemini-cli/openai`` translator writes ``{"project","request","model"}``, the
    ``gemini-cli/claude`` one ``{"model","request"}``; both put the Gemini body under ``request``.
    """
    inner = _render_body(req, {"contents": []}, cli=True)
    if req.source is Format.CLAUDE:
        return {"model": model, "request": inner}
    return {"project": "", "request": inner, "model": model}
