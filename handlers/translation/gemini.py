"""Gemini ``generateContent``: every direction implemented so far for the Gemini format.

* ``parse_request``: client body -> ``Request`` (what the Gemini->Claude pair, A2.7, reads).
* ``render_request``: ``Request`` -> Gemini body, with the OpenAI-chat-client rules (A2.3) and the
  Claude-client rules (A2.5); each rule is marked with its pair. ``render_cli_request`` is the
  same body inside the Gemini CLI envelope; ``wrap_cli_response`` wraps answers for CLI clients.
* ``parse_chunk``: one Gemini response object (a stream chunk or a whole non-stream answer, with
  or without the Gemini CLI / Antigravity ``{"response": ...}`` envelope) -> ``GeminiChunk``,
  i.e. internal parts per candidate + finish + usage.
* ``OpenAIChatFromGemini`` / ``render_openai_response``: Gemini -> OpenAI chat client (A2.4).
* ``ClaudeStreamFromGemini`` / ``render_claude_response``: Gemini -> Claude client (A2.6).
  (Gemini API upstreams only: the legacy Gemini CLI response translators differ, see README.)
* ``GeminiStreamFromClaude`` / ``render_gemini_response``: Claude upstream -> Gemini client.
* ``render_count_tokens``: the ``countTokens`` answer.

Why the Gemini-upstream renderers live here rather than in ``openai_chat.py`` / ``claude.py``: the
legacy translators work one Gemini chunk at a time (one OpenAI chunk per candidate, where a later
text part in the same chunk replaces an earlier one; Claude blocks that close on every type switch
and a ``message_delta`` only when usage and a finish reason arrive together). Those are pair rules
with their own state, unlike the delta-by-delta machines of the OpenAI/Claude pairs, so they sit
beside the Gemini parser where the next reader looks for them.
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from handlers.translation import usage as usage_rules
from handlers.translation.model import (
    FilePart,
    Finish,
    FinishReason,
    Format,
    ImagePart,
    Message,
    MessageStart,
    Part,
    Request,
    Response,
    Role,
    SignatureDelta,
    StreamError,
    StreamEvent,
    TextDelta,
    TextPart,
    ThinkingConfig,
    ThinkingDelta,
    ThinkingMode,
    ThinkingPart,
    Tool,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallPart,
    ToolCallStart,
    ToolChoice,
    ToolResultPart,
    Usage,
)
from handlers.translation.openai_chat import go_number
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

# Extension -> MIME type for OpenAI ``file`` parts. A subset of the legacy misc.MimeTypes table
# (common documents, images, audio, video); unknown extensions are skipped as in the legacy code.
FILE_MIME_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "json": "application/json",
    "js": "application/javascript",
    "xml": "application/xml",
    "rtf": "application/rtf",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "txt": "text/plain",
    "csv": "text/csv",
    "html": "text/html",
    "c": "text/x-c",
    "java": "text/x-java-source",
    "png": "image/png",
    "jpg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "aac": "audio/x-aac",
    "flac": "audio/x-flac",
    "wav": "audio/x-wav",
    "mp4": "video/mp4",
    "webm": "video/webm",
    "avi": "video/x-msvideo",
}

_tool_id_counter = itertools.count(1)


def synthetic_tool_id(name: str) -> str:
    """``<name>-<unix nanoseconds>-<process counter>``, the id Gemini-sourced tool calls get (A2.16)."""
    return f"{name}-{time.time_ns()}-{next(_tool_id_counter)}"


def safety_settings() -> list[dict[str, str]]:
    return [{"category": category, "threshold": threshold} for category, threshold in SAFETY_SETTINGS]


def _json_value(text: str | None) -> Any:
    if not text:
        return {}
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}


_raw_text = json_text


# --- client request -> internal --------------------------------------------------------------

_GEMINI_KNOWN_FIELDS = frozenset(
    {"model", "contents", "system_instruction", "generationConfig", "tools", "tool_config"}
)
_CHOICE_MODES = {"AUTO": "auto", "NONE": "none", "ANY": "required"}


def _number(value: Any) -> int | float | None:
    return go_number(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _gemini_thinking(config: Any) -> ThinkingConfig | None:
    if not isinstance(config, dict):
        return None
    if "thinkingLevel" in config:
        return ThinkingConfig(ThinkingMode.LEVEL, level=str(config["thinkingLevel"] or ""))
    if "thinkingBudget" in config:
        budget = _number(config["thinkingBudget"])
        return ThinkingConfig(ThinkingMode.BUDGET, budget=int(budget or 0))
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
    inline = part.get("inline_data")
    if isinstance(inline, dict):
        return ImagePart(media_type=str(inline.get("mime_type") or ""), data=str(inline.get("data") or ""))
    file = part.get("file_data")
    if isinstance(file, dict):
        text = f"File: {file.get('file_uri') or ''}"
        if "mime_type" in file:
            text += f" (Type: {file['mime_type']})"
        return TextPart(text)
    return None


def parse_request(body: dict[str, Any]) -> Request:
    """Client ``generateContent`` body -> ``Request`` (streaming is decided by the URL, not here)."""
    req = Request(source=Format.GEMINI, model=str(body.get("model") or ""))
    config = body.get("generationConfig") if isinstance(body.get("generationConfig"), dict) else {}
    max_tokens = _number(config.get("maxOutputTokens"))
    req.max_tokens = None if max_tokens is None else int(max_tokens)
    req.temperature, req.top_p, req.top_k = (_number(config.get(k)) for k in ("temperature", "topP", "topK"))
    if isinstance(config.get("candidateCount"), int):
        req.n = config["candidateCount"]
    stops = config.get("stopSequences")
    if isinstance(stops, list):
        req.stop = [s if isinstance(s, str) else json_text(s) for s in stops] or None
    req.thinking = _gemini_thinking(config.get("thinkingConfig"))
    system = body.get("system_instruction")
    if isinstance(system, dict) and isinstance(system.get("parts"), list):
        texts = [p["text"] for p in system["parts"] if isinstance(p, dict) and "text" in p]
        req.messages.append(Message(Role.SYSTEM, [TextPart(t if isinstance(t, str) else json_text(t)) for t in texts]))
    for content in body.get("contents") or []:
        if not isinstance(content, dict):
            continue
        role = Role.ASSISTANT if content.get("role") == "model" else Role.USER
        parts = [_gemini_client_part(p, role) for p in content.get("parts") or [] if isinstance(p, dict)]
        req.messages.append(Message(role, [p for p in parts if p is not None]))
    for tool in body.get("tools") or []:
        for decl in (tool.get("functionDeclarations") or []) if isinstance(tool, dict) else []:
            if isinstance(decl, dict):
                schema = decl["parameters"] if "parameters" in decl else decl.get("parametersJsonSchema")
                req.tools.append(
                    Tool(str(decl.get("name") or ""), str(decl.get("description") or ""), schema, raw=decl)
                )
    tool_config = body.get("tool_config") if isinstance(body.get("tool_config"), dict) else {}
    calling = (
        tool_config.get("function_calling_config")
        if isinstance(tool_config.get("function_calling_config"), dict)
        else {}
    )
    if calling.get("mode") in _CHOICE_MODES:
        req.tool_choice = ToolChoice(_CHOICE_MODES[calling["mode"]], raw=calling)
    req.extra = {k: v for k, v in body.items() if k not in _GEMINI_KNOWN_FIELDS}
    return req


def render_count_tokens(count: int) -> dict[str, Any]:
    """``countTokens`` answer for Gemini and Gemini CLI clients (golden 30).

    Reference A1 says the Gemini CLI form is wrapped in ``response``; every ``*_gemini-cli``
    response file at 9b72ea9ef returns this same bare object, and the code is what ships.
    """
    return {"totalTokens": count, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": count}]}


# --- internal -> upstream request ------------------------------------------------------------


def _inline_image(url: str) -> dict[str, Any] | None:
    # A2.3: the URL after "data:" is split once on ";" and "base64," is skipped by position.
    if len(url) <= 5:
        return None
    pieces = url[5:].split(";", 1)
    if len(pieces) != 2 or len(pieces[1]) <= 7:
        return None
    return {"inlineData": {"mime_type": pieces[0], "data": pieces[1][7:]}, "thoughtSignature": SKIP_SIGNATURE}


def _openai_parts(message: Message, *, files: bool, keep_empty: bool) -> list[dict[str, Any]]:
    if message.plain:
        text = "".join(p.text for p in message.parts if isinstance(p, TextPart))
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
            if not system_parts:
                out[system_key] = {"role": "user", "parts": system_parts}
            system_parts.extend({"text": p.text} for p in message.parts if isinstance(p, TextPart))
        elif message.role in (Role.USER, Role.SYSTEM, Role.DEVELOPER):
            out["contents"].append({"role": "user", "parts": _openai_parts(message, files=True, keep_empty=cli)})
        elif message.role is Role.ASSISTANT:
            parts = _openai_parts(message, files=False, keep_empty=cli)
            answered: list[dict[str, Any]] = []
            for call in (p for p in message.parts if isinstance(p, ToolCallPart)):
                parts.append(
                    {
                        "functionCall": {"name": call.name, "args": _json_value(call.arguments)},
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


def _render_claude_contents(req: Request, out: dict[str, Any], *, cli: bool) -> None:
    """Claude client -> Gemini messages (A2.5, golden 12); Gemini CLI says ``systemInstruction``."""
    system_key = "systemInstruction" if cli else "system_instruction"
    for message in req.messages:
        if message.role is Role.SYSTEM:
            if message.plain:
                text = "".join(p.text for p in message.parts if isinstance(p, TextPart))
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
            elif isinstance(part, ToolCallPart):
                args = _json_value(part.arguments) if part.arguments else None
                if isinstance(args, dict):
                    parts.append(
                        {"thoughtSignature": SKIP_SIGNATURE, "functionCall": {"name": part.name, "args": args}}
                    )
            elif isinstance(part, ToolResultPart) and part.tool_call_id:
                # The function name is recovered from ids minted as "<name>-<nanos>-<n>".
                pieces = part.tool_call_id.split("-")
                name = "-".join(pieces[:-1]) if len(pieces) > 1 else part.tool_call_id
                result = "" if part.content is None else _raw_text(part.content)
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


# --- upstream response -> internal -----------------------------------------------------------


@dataclass(slots=True)
class GeminiCandidate:
    index: int
    parts: list[Part] = field(default_factory=list)
    finish: FinishReason | None = None


@dataclass(slots=True)
class GeminiChunk:
    id: str | None = None
    model: str | None = None
    # None: no createTime; otherwise the parsed Unix time, or -1 when it did not parse.
    created: int | None = None
    # None when the object had no candidates array (usage-only chunks).
    candidates: list[GeminiCandidate] | None = None
    usage: Usage | None = None
    has_finish: bool = False


def _parse_time(value: Any) -> int:
    if not isinstance(value, str):
        return -1
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return -1


def _parse_part(raw: dict[str, Any]) -> Part | None:
    signature = raw.get("thoughtSignature", raw.get("thought_signature"))
    inline = raw.get("inlineData", raw.get("inline_data"))
    if "text" in raw:
        text = raw["text"] if isinstance(raw["text"], str) else _raw_text(raw["text"])
        if raw.get("thought") is True:
            return ThinkingPart(text, signature=signature if isinstance(signature, str) else "")
        return TextPart(text)
    if "functionCall" in raw:
        call = raw["functionCall"] if isinstance(raw["functionCall"], dict) else {}
        arguments = _raw_text(call["args"]) if "args" in call else None
        return ToolCallPart("", str(call.get("name") or ""), arguments)
    if isinstance(inline, dict):
        mime = inline.get("mimeType") or inline.get("mime_type") or ""
        return ImagePart(media_type=str(mime), data=str(inline.get("data") or ""))
    return None  # signature-only and unknown parts carry nothing to translate


def parse_chunk(obj: dict[str, Any], source: Format = Format.GEMINI) -> GeminiChunk:
    if isinstance(obj.get("response"), dict):
        obj = obj["response"]  # Gemini CLI / Antigravity envelope (A2.13)
    chunk = GeminiChunk(
        id=obj["responseId"] if isinstance(obj.get("responseId"), str) else None,
        model=obj["modelVersion"] if isinstance(obj.get("modelVersion"), str) else None,
        created=_parse_time(obj["createTime"]) if "createTime" in obj else None,
    )
    if isinstance(obj.get("usageMetadata"), dict):
        chunk.usage = usage_rules.from_gemini(obj["usageMetadata"], source)
    candidates = obj.get("candidates")
    if isinstance(candidates, list):
        chunk.candidates = []
        for raw in candidates:
            if not isinstance(raw, dict):
                continue
            candidate = GeminiCandidate(raw["index"] if isinstance(raw.get("index"), int) else 0)
            content = raw.get("content") if isinstance(raw.get("content"), dict) else {}
            for part in content.get("parts") or []:
                parsed = _parse_part(part) if isinstance(part, dict) else None
                if parsed is not None:
                    candidate.parts.append(parsed)
            if "finishReason" in raw:
                chunk.has_finish = True
                candidate.finish = FinishReason(str(raw["finishReason"] or ""), source)
            chunk.candidates.append(candidate)
    return chunk


# --- Gemini upstream -> OpenAI chat client (A2.4) --------------------------------------------


def _image_entry(part: ImagePart, index: int) -> dict[str, Any]:
    url = f"data:{part.media_type or 'image/png'};base64,{part.data}"
    return {"type": "image_url", "image_url": {"url": url}, "index": index}


class OpenAIChatFromGemini:
    """Gemini chunks -> ``chat.completion.chunk`` objects, one per candidate (A2.4, goldens 23-24)."""

    __slots__ = ("_created", "_function_index", "_tool_id")

    def __init__(self, *, tool_id: Callable[[str], str] = synthetic_tool_id) -> None:
        self._created = 0
        self._function_index: dict[int, int] = defaultdict(int)
        self._tool_id = tool_id

    def feed(self, chunk: GeminiChunk) -> list[dict[str, Any]]:
        if chunk.created is not None and chunk.created >= 0:
            self._created = chunk.created
        out: list[dict[str, Any]] = []
        for candidate in chunk.candidates or []:
            delta: dict[str, Any] = {"role": None, "content": None, "reasoning_content": None, "tool_calls": None}
            choice: dict[str, Any] = {
                "index": candidate.index,
                "delta": delta,
                "finish_reason": None,
                "native_finish_reason": None,
            }
            if candidate.finish is not None:
                choice["finish_reason"] = choice["native_finish_reason"] = candidate.finish.native.lower()
            saw_call = False
            for part in candidate.parts:
                if isinstance(part, TextPart | ThinkingPart):
                    # Each text part overwrites the previous one of the same chunk, as in the legacy code.
                    delta["reasoning_content" if isinstance(part, ThinkingPart) else "content"] = part.text
                    delta["role"] = "assistant"
                elif isinstance(part, ToolCallPart):
                    saw_call = True
                    index = self._function_index[candidate.index]
                    self._function_index[candidate.index] += 1
                    if isinstance(delta["tool_calls"], list):
                        index = len(delta["tool_calls"])
                    else:
                        delta["tool_calls"] = []
                    function = {"name": part.name, "arguments": part.arguments or ""}
                    delta["tool_calls"].append(
                        {"id": self._tool_id(part.name), "index": index, "type": "function", "function": function}
                    )
                    delta["role"] = "assistant"
                elif isinstance(part, ImagePart) and part.data:
                    images = delta.setdefault("images", [])
                    images.append(_image_entry(part, len(images)))
                    delta["role"] = "assistant"
            if saw_call:
                choice["finish_reason"] = choice["native_finish_reason"] = "tool_calls"
            out.append(self._envelope(chunk, choice))
        if chunk.candidates is None and chunk.usage is not None:
            out.append(self._envelope(chunk, None))
        return out

    def _envelope(self, chunk: GeminiChunk, choice: dict[str, Any] | None) -> dict[str, Any]:
        if choice is None:
            choice = {
                "index": 0,
                "delta": {"role": None, "content": None, "reasoning_content": None, "tool_calls": None},
                "finish_reason": None,
                "native_finish_reason": None,
            }
        envelope: dict[str, Any] = {
            "id": chunk.id or "",
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": chunk.model if chunk.model is not None else "model",
            "choices": [choice],
        }
        if chunk.usage is not None:
            envelope["usage"] = usage_rules.to_openai(chunk.usage, stream=True)
        return envelope


def render_openai_response(chunk: GeminiChunk, *, tool_id: Callable[[str], str] = synthetic_tool_id) -> dict[str, Any]:
    """A whole Gemini answer -> ``chat.completion`` (A2.4 non-stream: cached tokens stay in the prompt)."""
    out: dict[str, Any] = {
        "id": chunk.id or "",
        "object": "chat.completion",
        "created": chunk.created if chunk.created is not None and chunk.created >= 0 else 0,
        "model": chunk.model if chunk.model is not None else "model",
        "choices": [],
    }
    if chunk.usage is not None:
        out["usage"] = usage_rules.to_openai(chunk.usage, stream=False)
    for candidate in chunk.candidates or []:
        message: dict[str, Any] = {"role": "assistant", "content": None, "reasoning_content": None, "tool_calls": None}
        choice: dict[str, Any] = {
            "index": candidate.index,
            "message": message,
            "finish_reason": None,
            "native_finish_reason": None,
        }
        if candidate.finish is not None:
            choice["finish_reason"] = choice["native_finish_reason"] = candidate.finish.native.lower()
        saw_call = False
        for part in candidate.parts:
            if isinstance(part, TextPart | ThinkingPart):
                key = "reasoning_content" if isinstance(part, ThinkingPart) else "content"
                message[key] = (message[key] or "") + part.text
            elif isinstance(part, ToolCallPart):
                saw_call = True
                if not isinstance(message["tool_calls"], list):
                    message["tool_calls"] = []
                function = {"name": part.name, "arguments": part.arguments or ""}
                message["tool_calls"].append({"id": tool_id(part.name), "type": "function", "function": function})
            elif isinstance(part, ImagePart) and part.data:
                images = message.setdefault("images", [])
                images.append(_image_entry(part, len(images)))
        if saw_call:
            choice["finish_reason"] = choice["native_finish_reason"] = "tool_calls"
        out["choices"].append(choice)
    return out


# --- Gemini upstream -> Claude client (A2.6) -------------------------------------------------

PLACEHOLDER_MESSAGE_ID = "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY"
PLACEHOLDER_MODEL = "claude-3-5-sonnet-20241022"

ClaudeFrame = tuple[str, dict[str, Any]]
_NO_BLOCK, _TEXT, _THINKING, _TOOL = 0, 1, 2, 3


class ClaudeStreamFromGemini:
    """Gemini chunks -> Claude SSE frames (A2.6, golden 25). Encode with ``sse.GEMINI_CLAUDE_TRAILER``.

    Only candidate 0 is read. Any change of block type closes the open block; a function call
    always opens a new tool block carrying its whole arguments in one ``input_json_delta``.
    """

    __slots__ = ("_block", "_has_content", "_index", "_started", "_tool_id")

    def __init__(self, *, tool_id: Callable[[str], str] = synthetic_tool_id) -> None:
        self._started = False
        self._block = _NO_BLOCK
        self._index = 0
        self._has_content = False
        self._tool_id = tool_id

    def _stop(self, out: list[ClaudeFrame]) -> None:
        out.append(("content_block_stop", {"type": "content_block_stop", "index": self._index}))

    def _switch(self, out: list[ClaudeFrame], block: int, content_block: dict[str, Any]) -> None:
        if self._block != _NO_BLOCK:
            self._stop(out)
            self._index += 1
        out.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": self._index, "content_block": content_block},
            )
        )
        self._block = block

    def _delta(self, out: list[ClaudeFrame], delta: dict[str, Any]) -> None:
        out.append(("content_block_delta", {"type": "content_block_delta", "index": self._index, "delta": delta}))

    def feed(self, chunk: GeminiChunk) -> list[ClaudeFrame]:
        out: list[ClaudeFrame] = []
        if not self._started:
            self._started = True
            message = {
                "id": chunk.id if chunk.id is not None else PLACEHOLDER_MESSAGE_ID,
                "type": "message",
                "role": "assistant",
                "content": [],
                "model": chunk.model if chunk.model is not None else PLACEHOLDER_MODEL,
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 0, "output_tokens": 0},
            }
            out.append(("message_start", {"type": "message_start", "message": message}))
        used_tool = False
        parts = chunk.candidates[0].parts if chunk.candidates else []
        for part in parts:
            if isinstance(part, ThinkingPart):
                if self._block != _THINKING:
                    self._switch(out, _THINKING, {"type": "thinking", "thinking": ""})
                self._delta(out, {"type": "thinking_delta", "thinking": part.text})
                self._has_content = True
            elif isinstance(part, TextPart):
                if self._block != _TEXT:
                    self._switch(out, _TEXT, {"type": "text", "text": ""})
                self._delta(out, {"type": "text_delta", "text": part.text})
                self._has_content = True
            elif isinstance(part, ToolCallPart):
                used_tool = True
                if self._block == _TOOL and not part.name:
                    # A nameless call right after a tool block continues its arguments.
                    if part.arguments is not None:
                        self._delta(out, {"type": "input_json_delta", "partial_json": part.arguments})
                    continue
                block = {"type": "tool_use", "id": self._tool_id(part.name), "name": part.name, "input": {}}
                self._switch(out, _TOOL, block)
                if part.arguments is not None:
                    self._delta(out, {"type": "input_json_delta", "partial_json": part.arguments})
                self._has_content = True
        usage = chunk.usage
        if usage is not None and chunk.has_finish and usage.output_reported and self._has_content:
            self._stop(out)
            payload = {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use" if used_tool else "end_turn", "stop_sequence": None},
                "usage": usage_rules.to_claude(usage),
            }
            out.append(("message_delta", payload))
        return out

    def done(self) -> list[ClaudeFrame]:
        """The upstream ended (the executor's synthetic ``[DONE]``)."""
        return [("message_stop", {"type": "message_stop"})] if self._has_content else []


def render_claude_response(chunk: GeminiChunk) -> dict[str, Any]:
    """A whole Gemini answer -> Claude message (A2.6 non-stream, golden 26)."""
    content: list[dict[str, Any]] = []
    run: list[str] = []
    run_kind = ""

    def flush() -> None:
        nonlocal run_kind
        if run and "".join(run):
            key = "thinking" if run_kind == "thinking" else "text"
            content.append({"type": key, key: "".join(run)})
        run.clear()
        run_kind = ""

    tool_count = 0
    candidate = chunk.candidates[0] if chunk.candidates else GeminiCandidate(0)
    for part in candidate.parts:
        if isinstance(part, TextPart | ThinkingPart) and part.text:
            kind = "thinking" if isinstance(part, ThinkingPart) else "text"
            if kind != run_kind:
                flush()
                run_kind = kind
            run.append(part.text)
        elif isinstance(part, ToolCallPart):
            flush()
            tool_count += 1
            args = _json_value(part.arguments) if part.arguments else {}
            content.append(
                {
                    "type": "tool_use",
                    "id": f"tool_{tool_count}",
                    "name": part.name,
                    "input": args if isinstance(args, dict) else {},
                }
            )
    flush()
    if tool_count:
        stop_reason = "tool_use"
    elif candidate.finish is not None and candidate.finish.native == "MAX_TOKENS":
        stop_reason = "max_tokens"
    else:
        stop_reason = "end_turn"
    out: dict[str, Any] = {
        "id": chunk.id or "",
        "type": "message",
        "role": "assistant",
        "model": chunk.model or "",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
    }
    if chunk.usage is not None:
        out["usage"] = usage_rules.to_claude(chunk.usage)
    return out


# --- Claude upstream -> Gemini client (claude/gemini response translator) ------------------


def _rfc3339(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def gemini_error(message: str) -> dict[str, Any]:
    """The Gemini-shaped error object the Claude->Gemini translator emits for an ``error`` event."""
    return {"error": {"code": 400, "message": message or "Unknown error occurred", "status": "INVALID_ARGUMENT"}}


class GeminiStreamFromClaude:
    """Claude upstream events -> Gemini ``GenerateContentResponse`` chunks.

    Every text/thinking delta becomes its own chunk; a tool call goes out whole when its block
    closes; ``message_delta`` carries usage. The finish reason is always ``STOP``: the legacy maps
    ``max_tokens`` to ``MAX_TOKENS`` and then overwrites it (the A2.16 table row does not hold here).
    """

    __slots__ = ("_created", "_id", "_model", "_now", "_tool_args", "_tool_names")

    def __init__(self, model: str, *, now: Callable[[], int] = lambda: int(time.time())) -> None:
        self._model = model
        self._id = ""
        self._created = 0
        self._now = now
        self._tool_names: dict[int, str] = {}
        self._tool_args: dict[int, list[str]] = {}

    def _chunk(self, parts: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}}
        chunk = {
            "candidates": [candidate],
            "usageMetadata": {"trafficType": "PROVISIONED_THROUGHPUT"},
            "modelVersion": self._model,
            "createTime": _rfc3339(self._created),
            "responseId": self._id,
        }
        return chunk, candidate

    def feed(self, event: StreamEvent) -> list[dict[str, Any]]:
        if not self._created:
            self._created = self._now()
        if isinstance(event, MessageStart):
            self._id = event.id
            self._model = event.model or self._model
            return []
        if isinstance(event, TextDelta | ThinkingDelta | SignatureDelta):
            parts: list[dict[str, Any]] = []
            if isinstance(event, TextDelta) and event.text:
                parts.append({"text": event.text})
            elif isinstance(event, ThinkingDelta) and event.text:
                parts.append({"thought": True, "text": event.text})
            return [self._chunk(parts)[0]]
        if isinstance(event, ToolCallStart):
            self._tool_names[event.index] = event.name
            return []
        if isinstance(event, ToolCallDelta):
            self._tool_args.setdefault(event.index, []).append(event.arguments)
            return []
        if isinstance(event, ToolCallEnd):
            name = self._tool_names.pop(event.index, "")
            arguments = "".join(self._tool_args.pop(event.index, [])).strip()
            if not name and not arguments:
                return []
            chunk, candidate = self._chunk([{"functionCall": {"name": name, "args": _json_value(arguments)}}])
            candidate["finishReason"] = "STOP"
            return [chunk]
        if isinstance(event, Finish):
            chunk, candidate = self._chunk([])
            if event.usage is not None:
                chunk["usageMetadata"] = usage_rules.to_gemini(event.usage, stream=True)
            candidate["finishReason"] = "STOP"
            return [chunk]
        if isinstance(event, StreamError):
            return [gemini_error(event.message)]
        return []


def render_gemini_response(
    resp: Response, model: str, *, now: Callable[[], int] = lambda: int(time.time())
) -> dict[str, Any]:
    """A folded Claude answer -> Gemini ``GenerateContentResponse`` (non-stream).

    ``modelVersion`` is the requested model, not Claude's; runs of text and of thoughts are merged.
    """
    parts: list[dict[str, Any]] = []
    for part in resp.parts:
        if isinstance(part, TextPart) and part.text:
            parts.append({"text": part.text})
        elif isinstance(part, ThinkingPart) and part.text:
            parts.append({"thought": True, "text": part.text})
        elif isinstance(part, ToolCallPart) and (part.name or (part.arguments or "").strip()):
            parts.append({"functionCall": {"name": part.name, "args": _json_value((part.arguments or "").strip())}})
    out: dict[str, Any] = {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}],
        "usageMetadata": {"trafficType": "PROVISIONED_THROUGHPUT"},
        "modelVersion": model,
        "createTime": _rfc3339(now()) if resp.id else "",
        "responseId": resp.id,
    }
    if resp.usage is not None:
        out["usageMetadata"] = usage_rules.to_gemini(resp.usage, stream=False)
    return out


def wrap_cli_response(payload: dict[str, Any]) -> dict[str, Any]:
    """Gemini CLI clients get each Gemini response object inside ``response`` (A2.13)."""
    return {"response": payload}
