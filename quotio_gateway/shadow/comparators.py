"""Comparison of a legacy and a native response (sans-io).

Two comparators:

* ``json``: management API, model lists, anything whose answer must be the same document.
  Status and content-type family must agree; JSON bodies must be equal (key order and number
  spelling aside, non-JSON bodies byte for byte) except at ignorable paths
  (ids, timestamps), whose differences are reported as IGNORED rather than MATCH so that an
  experiment still relying on an ignore rule stays visible.
* ``llm``: inference endpoints, where text differs run to run. Only the structure is compared:
  status, error type, the SSE event-type sequence, finish reasons, tool-call names and argument
  shapes, and which usage keys are present.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from typing import Any

import orjson

from .expected import expected_difference
from .redact import REDACTED, is_secret_key
from .sse import split_events
from .types import Captured, Comparison, Outcome

# A bare name is ignored at any depth; `id` only at the top (response ids), because inside model
# and auth-file lists the id is the very thing being compared.
DEFAULT_IGNORE_PATHS: tuple[str, ...] = (
    "$.id", "created", "created_at", "timestamp", "exported_at", "request_id", "system_fingerprint",
    # Auth-file times: each side reports when it loaded or last saw the file.
    "modtime", "updated_at",
)
# Decompressed bodies beyond this are not compared (guards against compression bombs).
DEFAULT_MAX_DECODED = 16 * 1024 * 1024
_MAX_DIFF_ENTRIES = 100
_MAX_VALUE_CHARS = 240
_MAX_IGNORED_SHOWN = 20

_LLM_PATHS = frozenset({
    "/v1/chat/completions", "/v1/completions", "/v1/responses", "/v1/responses/compact", "/v1/messages",
    "/v1/messages/count_tokens", "/chat/completions", "/completions", "/responses",
    "/backend-api/codex/responses", "/backend-api/codex/responses/compact",
})
_GEMINI_ACTIONS = (":generateContent", ":streamGenerateContent", ":countTokens")
_MISSING = object()


class BodyTooLarge(Exception):
    """A compressed body inflates past the decode limit."""


_MODEL_LISTS = frozenset({"/v1/models", "/v1beta/models"})


def choose_comparator(method: str, path: str) -> str:
    """``llm`` for inference calls, ``models`` for model lists, ``json`` for everything else."""
    if method.upper() in ("GET", "HEAD"):
        bare = path.split("?", 1)[0].rstrip("/")
        if bare in _MODEL_LISTS or (bare.startswith("/api/provider/") and bare.endswith("/models")):
            return "models"
        return "json"
    path = path.split("?", 1)[0].rstrip("/") or "/"
    if path.startswith("/v1beta/models/") and ":" in path.rsplit("/", 1)[-1]:
        # Any method, not only the three served: the legacy answers the others with an empty 200
        # (gemini_handlers.go:152-159, no default), native with a 404; neither calls upstream.
        # That is the documented `gemini-unknown-method-404` rule, which a write skip never reaches.
        return "llm"
    if path.startswith("/api/provider/"):
        # /api/provider/<provider>/<client path>: judge the client path.
        rest = path[len("/api/provider/"):]
        _, _, tail = rest.partition("/")
        path = "/" + tail
        if "/models/" in path and path.startswith("/v1beta1/"):
            return "llm"
    if path in _LLM_PATHS:
        return "llm"
    if path.startswith("/v1internal:"):
        # Only the three inference methods are served locally; every other method (onboardUser,
        # loadCodeAssist, …) is relayed to Cloud Code once, a write a shadow leg must not repeat.
        return "llm" if path.endswith(_GEMINI_ACTIONS) else "json"
    if "/models/" in path and path.endswith(_GEMINI_ACTIONS):
        return "llm"
    return "json"


def compare(kind: str, legacy: Captured, native: Captured, *,
            ignore_paths: Iterable[str] = DEFAULT_IGNORE_PATHS,
            max_decoded: int = DEFAULT_MAX_DECODED) -> Comparison:
    if kind not in ("json", "llm", "models"):
        raise ValueError(f"unknown comparator {kind!r}")
    if legacy.error is not None:
        return Comparison(Outcome.SKIPPED, f"legacy leg failed: {legacy.error}", reason="legacy_failed")
    if native.error is not None:
        return Comparison(Outcome.ERROR, f"native leg failed: {native.error}", reason="native_failed")
    if legacy.truncated or native.truncated:
        return Comparison(Outcome.SKIPPED, "body over the compare byte cap", reason="too_large")
    try:
        legacy_body = decoded_body(legacy, max_decoded)
        native_body = decoded_body(native, max_decoded)
    except BodyTooLarge:
        return Comparison(Outcome.SKIPPED, "decompressed body over the compare byte cap", reason="too_large")
    if kind in ("json", "models"):
        return _compare_json(legacy, legacy_body, native, native_body, ignore_paths, unordered=kind == "models")
    return _compare_llm(legacy, legacy_body, native, native_body)


# --- body helpers -------------------------------------------------------------------------------

def content_type_family(captured: Captured) -> str:
    value = captured.header("Content-Type") or ""
    return value.split(";", 1)[0].strip().lower()


def decoded_body(captured: Captured, limit: int = DEFAULT_MAX_DECODED) -> bytes:
    """Body with gzip/deflate content-coding removed (the legacy tee sees the wire bytes)."""
    body = captured.body
    coding = (captured.header("Content-Encoding") or "").strip().lower()
    if coding in ("gzip", "x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif coding == "deflate":
        wbits = zlib.MAX_WBITS
    elif not coding and body[:2] == b"\x1f\x8b":
        # Claude upstreams sometimes answer gzip without saying so; legacy gunzips those.
        wbits = 16 + zlib.MAX_WBITS
    else:
        return body
    decoder = zlib.decompressobj(wbits)
    try:
        out = decoder.decompress(body, limit + 1)
    except zlib.error:
        return body
    if len(out) > limit:
        raise BodyTooLarge
    return out


def _parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return _MISSING


# --- JSON structural diff -----------------------------------------------------------------------

class _IgnoreRules:
    """Key names match at any depth; dotted patterns ("$.data.*.created") match one exact path."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.names: set[str] = set()
        self.paths: list[list[str]] = []
        for pattern in patterns:
            text = pattern.strip()
            if text.startswith("$"):
                text = text[1:].lstrip(".")
            if "." in text or "[" in text or pattern.startswith("$"):
                self.paths.append(text.replace("[", ".").replace("]", "").split("."))
            elif text:
                self.names.add(text)

    def match(self, segments: list[str | int]) -> bool:
        last = segments[-1] if segments else None
        if isinstance(last, str) and last in self.names:
            return True
        for pattern in self.paths:
            if len(pattern) == len(segments) and all(
                    want == "*" or want == str(got) for want, got in zip(pattern, segments, strict=True)):
                return True
        return False


def format_path(segments: list[str | int]) -> str:
    out = "$"
    for segment in segments:
        if isinstance(segment, int):
            out += f"[{segment}]"
        elif segment.replace("_", "").replace("-", "").isalnum():
            out += f".{segment}"
        else:
            out += "[" + orjson.dumps(segment).decode() + "]"
    return out


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _render(value: Any, secret: bool) -> str:
    if value is _MISSING:
        return "(absent)"
    if secret and value is not None:
        return REDACTED
    text = orjson.dumps(value).decode()
    if len(text) > _MAX_VALUE_CHARS:
        text = text[:_MAX_VALUE_CHARS] + "…"
    return text


def _secret_path(segments: list[str | int]) -> bool:
    """A value under a secret key, directly or inside it (``$.api-keys[2]``)."""
    return any(isinstance(segment, str) and is_secret_key(segment) for segment in segments)


class _DiffCollector:
    def __init__(self, rules: _IgnoreRules | None) -> None:
        self.rules = rules
        self.lines: list[str] = []
        self.entries = 0
        self.ignored: list[str] = []
        self.ignored_lines: list[str] = []

    def add(self, segments: list[str | int], legacy: Any, native: Any) -> None:
        self.entries += 1
        if self.entries > _MAX_DIFF_ENTRIES:
            return
        secret = _secret_path(segments)
        self.lines += [f"@ {format_path(segments)}", f"- {_render(legacy, secret)}",
                       f"+ {_render(native, secret)}"]

    def walk(self, legacy: Any, native: Any, segments: list[str | int]) -> None:
        if isinstance(legacy, dict) and isinstance(native, dict):
            for key in sorted(legacy.keys() | native.keys()):
                self._child(legacy.get(key, _MISSING), native.get(key, _MISSING), [*segments, key])
        elif isinstance(legacy, list) and isinstance(native, list):
            for index in range(max(len(legacy), len(native))):
                self._child(legacy[index] if index < len(legacy) else _MISSING,
                            native[index] if index < len(native) else _MISSING, [*segments, index])
        elif _json_type(legacy) != _json_type(native) or legacy != native:
            self.add(segments, legacy, native)

    def _child(self, legacy: Any, native: Any, segments: list[str | int]) -> None:
        if legacy is _MISSING or native is _MISSING:
            # A field present on one side only is a shape difference even where values are ignorable.
            self.add(segments, legacy, native)
            return
        if (self.rules is not None and self.rules.match(segments)
                and _json_type(legacy) == _json_type(native)):
            if legacy != native:
                path = format_path(segments)
                self.ignored.append(path)
                if len(self.ignored) <= _MAX_IGNORED_SHOWN:
                    secret = _secret_path(segments)
                    self.ignored_lines += [f"~ {path} (ignored)", f"- {_render(legacy, secret)}",
                                           f"+ {_render(native, secret)}"]
            return
        self.walk(legacy, native, segments)

    def text(self) -> str:
        """Real differences first, then the ones an ignore rule absorbed (marked ``~``)."""
        lines = list(self.lines)
        if self.entries > _MAX_DIFF_ENTRIES:
            lines.append(f"… {self.entries - _MAX_DIFF_ENTRIES} more differences")
        lines += self.ignored_lines
        if len(self.ignored) > _MAX_IGNORED_SHOWN:
            lines.append(f"… {len(self.ignored) - _MAX_IGNORED_SHOWN} more ignored differences")
        return "\n".join(lines)


def _head_diff(legacy: Captured, native: Captured, collector: _DiffCollector) -> None:
    if legacy.status != native.status:
        collector.lines += ["@ status", f"- {legacy.status}", f"+ {native.status}"]
        collector.entries += 1
    legacy_type, native_type = content_type_family(legacy), content_type_family(native)
    if legacy_type != native_type:
        collector.lines += ["@ content-type", f"- {legacy_type or '(none)'}", f"+ {native_type or '(none)'}"]
        collector.entries += 1


def _bytes_diff(legacy: bytes, native: bytes) -> list[str]:
    offset = next((i for i, (a, b) in enumerate(zip(legacy, native, strict=False)) if a != b),
                  min(len(legacy), len(native)))
    start = max(0, offset - 40)

    def window(body: bytes) -> str:
        text = body[start:offset + 80].decode("utf-8", errors="replace")
        return ("…" if start else "") + repr(text)[1:-1]

    return [f"@ body (bytes differ at offset {offset}; legacy {len(legacy)} bytes, native {len(native)} bytes)",
            f"- {window(legacy)}", f"+ {window(native)}"]


def _sorted_lists(doc: Any) -> Any:
    """Model lists come out of a Go map in random order: compare them sorted by id / name."""
    if isinstance(doc, dict):
        for key, field in (("data", "id"), ("models", "name")):
            items = doc.get(key)
            if isinstance(items, list) and all(isinstance(i, dict) for i in items):
                doc = {**doc, key: sorted(items, key=lambda item, f=field: str(item.get(f, "")))}
    return doc


def _compare_json(legacy: Captured, legacy_body: bytes, native: Captured, native_body: bytes,
                  ignore_paths: Iterable[str], *, unordered: bool = False) -> Comparison:
    collector = _DiffCollector(_IgnoreRules(ignore_paths))
    _head_diff(legacy, native, collector)
    if legacy_body != native_body:
        legacy_doc = _parse_json(legacy_body) if legacy_body else _MISSING
        native_doc = _parse_json(native_body) if native_body else _MISSING
        if unordered:
            legacy_doc, native_doc = _sorted_lists(legacy_doc), _sorted_lists(native_doc)
        if legacy_doc is not _MISSING and native_doc is not _MISSING:
            collector.walk(legacy_doc, native_doc, [])
        else:
            collector.lines += _bytes_diff(legacy_body, native_body)
            collector.entries += 1
    if collector.entries:
        return Comparison(Outcome.MISMATCH, collector.text(), collector.ignored)
    if collector.ignored:
        return Comparison(Outcome.IGNORED, collector.text(), collector.ignored)
    return Comparison(Outcome.MATCH)


# --- LLM structural signature -------------------------------------------------------------------

def _shape(value: Any) -> Any:
    """Key sets and value types, not values: two tool calls with the same shape compare equal."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        shapes: list[Any] = []
        for item in value:
            shape = _shape(item)
            if shape not in shapes:
                shapes.append(shape)
        return ["array", *sorted(shapes, key=lambda s: orjson.dumps(s, option=orjson.OPT_SORT_KEYS))]
    return _json_type(value)


def _arguments_shape(arguments: Any) -> Any:
    if isinstance(arguments, str):
        if not arguments.strip():
            return {}
        try:
            arguments = orjson.loads(arguments)
        except orjson.JSONDecodeError:
            return "invalid-json"
    return _shape(arguments)


def _flat_keys(value: Any, prefix: str = "") -> list[str]:
    keys: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{prefix}{key}"
            keys.append(name)
            keys += _flat_keys(item, name + ".")
    return keys


def _error_type(doc: Any) -> str | None:
    if not isinstance(doc, dict):
        return None
    error = doc.get("error")
    if isinstance(error, dict):
        for field in ("type", "status", "code"):
            value = error.get(field)
            if value not in (None, ""):
                return str(value)
        return "error"
    if isinstance(error, str):
        return "error"
    return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _index(value: Any, default: int) -> int:
    # Indices come from the wire; anything but an integer falls back to position.
    return value if isinstance(value, int) and not isinstance(value, bool) else default


class _Signature:
    """Accumulates the structural facts of one response, streamed or not."""

    def __init__(self) -> None:
        self.finish: dict[int, Any] = {}
        # (choice index, call position) -> [name, arguments text or object]
        self.tools: dict[tuple[int, int], list[Any]] = {}
        self.usage: set[str] = set()
        self.blocks: dict[int, str] = {}
        self.error: str | None = None
        self.events: list[str] = []

    def document(self, doc: Any) -> None:
        """A complete JSON response body (or a Gemini stream chunk, which has the same shape)."""
        if not isinstance(doc, dict):
            return
        if isinstance(doc.get("response"), dict) and "candidates" in doc["response"]:
            doc = doc["response"]  # Gemini CLI wraps the Gemini response.
        self.error = self.error or _error_type(doc)
        for name in ("usage", "usageMetadata"):
            if isinstance(doc.get(name), dict):
                self.usage.update(_flat_keys(doc[name]))
        if isinstance(doc.get("choices"), list):
            self._openai_choices(doc["choices"], delta=False)
        if doc.get("type") == "message" and isinstance(doc.get("content"), list):
            self.finish[0] = doc.get("stop_reason")
            for position, block in enumerate(doc["content"]):
                if isinstance(block, dict):
                    self.blocks[position] = str(block.get("type"))
                    if block.get("type") in ("tool_use", "server_tool_use"):
                        self.tools[(0, position)] = [block.get("name"), block.get("input")]
        if doc.get("object") == "response" or isinstance(doc.get("output"), list):
            self._response(doc)
        if isinstance(doc.get("candidates"), list):
            self._gemini(doc["candidates"])

    def _openai_choices(self, choices: list[Any], *, delta: bool) -> None:
        for position, choice in enumerate(choices):
            if not isinstance(choice, dict):
                continue
            index = _index(choice.get("index"), position)
            if choice.get("finish_reason") is not None or not delta:
                self.finish[index] = choice.get("finish_reason")
            message = choice.get("delta" if delta else "message")
            if not isinstance(message, dict):
                continue
            calls = _list(message.get("tool_calls"))
            if isinstance(message.get("function_call"), dict):
                calls = [{"index": 0, "function": message["function_call"]}]
            for call_position, call in enumerate(calls):
                if not isinstance(call, dict):
                    continue
                function = call.get("function")
                if not isinstance(function, dict):
                    function = {}
                key = (index, _index(call.get("index"), call_position) if delta else call_position)
                entry = self.tools.setdefault(key, [None, ""])
                if function.get("name"):
                    entry[0] = function["name"]
                arguments = function.get("arguments")
                if isinstance(arguments, str):
                    entry[1] = (entry[1] if isinstance(entry[1], str) else "") + arguments
                elif arguments is not None:
                    entry[1] = arguments

    def _response(self, doc: dict[str, Any]) -> None:
        details = doc.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, dict) else None
        self.finish[0] = [doc.get("status"), reason] if reason else doc.get("status")
        for position, item in enumerate(_list(doc.get("output"))):
            if not isinstance(item, dict):
                continue
            self.blocks[position] = str(item.get("type"))
            if item.get("type") in ("function_call", "custom_tool_call"):
                self.tools[(0, position)] = [item.get("name"), item.get("arguments", item.get("input"))]

    def _gemini(self, candidates: list[Any]) -> None:
        for position, candidate in enumerate(candidates):
            if not isinstance(candidate, dict):
                continue
            index = _index(candidate.get("index"), position)
            if candidate.get("finishReason") is not None:
                self.finish[index] = candidate["finishReason"]
            content = candidate.get("content")
            parts = content.get("parts") if isinstance(content, dict) else None
            for part in _list(parts):
                if isinstance(part, dict) and isinstance(part.get("functionCall"), dict):
                    call = part["functionCall"]
                    self.tools[(index, len(self.tools))] = [call.get("name"), call.get("args")]

    def event(self, name: str, data: str) -> None:
        """One SSE event of any of the four protocols."""
        if data.strip() == "[DONE]":
            self._label("[DONE]")
            return
        doc = _parse_json(data.encode()) if data else _MISSING
        if not isinstance(doc, dict):
            self._label(name or ("data" if doc is not _MISSING else "data:non-json"))
            return
        kind = doc.get("type") if isinstance(doc.get("type"), str) else None
        label = name or kind or (doc.get("object") if isinstance(doc.get("object"), str) else None)
        if label is None:
            label = "error" if "error" in doc else "data"
        if label == "ping":
            return  # Claude sends pings at arbitrary moments; they carry nothing.
        if kind == "content_block_start" and isinstance(doc.get("content_block"), dict):
            block = doc["content_block"]
            label += f":{block.get('type')}"
            index = _index(doc.get("index"), len(self.blocks))
            self.blocks[index] = str(block.get("type"))
            if block.get("type") in ("tool_use", "server_tool_use"):
                initial = block.get("input")
                self.tools[(0, index)] = [block.get("name"), "" if not initial else orjson.dumps(initial).decode()]
        elif kind == "content_block_delta" and isinstance(doc.get("delta"), dict):
            delta = doc["delta"]
            label += f":{delta.get('type')}"
            entry = self.tools.get((0, _index(doc.get("index"), -1)))
            if delta.get("type") == "input_json_delta" and entry is not None:
                entry[1] = (entry[1] if isinstance(entry[1], str) else "") + str(delta.get("partial_json", ""))
        elif kind == "message_start" and isinstance(doc.get("message"), dict):
            usage = doc["message"].get("usage")
            if isinstance(usage, dict):
                self.usage.update(_flat_keys(usage))
        elif kind == "message_delta":
            delta = doc.get("delta")
            if isinstance(delta, dict) and "stop_reason" in delta:
                self.finish[0] = delta["stop_reason"]
            if isinstance(doc.get("usage"), dict):
                self.usage.update(_flat_keys(doc["usage"]))
        elif kind == "response.output_item.added" and isinstance(doc.get("item"), dict):
            label += f":{doc['item'].get('type')}"
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            if isinstance(doc.get("response"), dict):
                self._response(doc["response"])
                if isinstance(doc["response"].get("usage"), dict):
                    self.usage.update(_flat_keys(doc["response"]["usage"]))
        elif isinstance(doc.get("choices"), list):
            self._openai_choices(doc["choices"], delta=True)
            if isinstance(doc.get("usage"), dict):
                self.usage.update(_flat_keys(doc["usage"]))
        elif "candidates" in doc or "response" in doc or "usageMetadata" in doc:
            self.document(doc)
        if label == "error" or kind == "error" or (name == "" and "error" in doc):
            self.error = self.error or _error_type(doc)
        self._label(label)

    def _label(self, label: str) -> None:
        # Repeated deltas collapse to one entry, so token counts and chunk sizes do not matter.
        if not self.events or self.events[-1] != label:
            self.events.append(label)

    def result(self, stream: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "error_type": self.error,
            "finish_reasons": [self.finish[key] for key in sorted(self.finish)],
            "tool_calls": [{"name": self.tools[key][0], "arguments": _arguments_shape(self.tools[key][1])}
                           for key in sorted(self.tools)],
            "usage_keys": sorted(self.usage),
            "content_blocks": [self.blocks[key] for key in sorted(self.blocks)],
        }
        if stream:
            out["events"] = self.events
        return out


_WHITESPACE = " \t\r\n"


def _json_sequence(body: bytes) -> Any:
    """JSON objects written one after another (the chunks of a Gemini-family stream under a
    non-SSE ``alt``: the legacy's Gemini handler writes each as it comes, gemini_handlers.go; the
    native side the same for a Gemini CLI client) as a list; ``_MISSING`` for anything else."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return _MISSING
    decoder = json.JSONDecoder()
    items: list[Any] = []
    index = 0
    while True:
        while index < len(text) and text[index] in _WHITESPACE:
            index += 1
        if index == len(text):
            break
        try:
            item, index = decoder.raw_decode(text, index)
        except ValueError:
            return _MISSING
        if not isinstance(item, dict):
            return _MISSING
        items.append(item)
    return items if len(items) > 1 else _MISSING


def llm_signature(captured: Captured, body: bytes) -> dict[str, Any]:
    family = content_type_family(captured)
    signature: dict[str, Any] = {"status": captured.status, "content_type": family}
    collector = _Signature()
    if family == "text/event-stream":
        for event in split_events(body):
            collector.event(event.event, event.data)
        signature.update(collector.result(stream=True))
        return signature
    doc = _parse_json(body) if body.strip() else _MISSING
    if doc is _MISSING and body.strip():
        doc = _json_sequence(body)
    if doc is _MISSING:
        signature["body"] = "non-json" if body.strip() else "empty"
        return signature
    if isinstance(doc, list):
        # Gemini streamGenerateContent with alt=json: one JSON array of response chunks, or the
        # chunks written one after another.
        for item in doc:
            collector.document(item)
        signature.update(collector.result(stream=False))
        return signature
    collector.document(doc)
    signature["keys"] = sorted(doc) if isinstance(doc, dict) else _json_type(doc)
    signature.update(collector.result(stream=False))
    return signature


def _compare_llm(legacy: Captured, legacy_body: bytes, native: Captured, native_body: bytes) -> Comparison:
    collector = _DiffCollector(None)
    legacy_sig, native_sig = llm_signature(legacy, legacy_body), llm_signature(native, native_body)
    collector.walk(legacy_sig, native_sig, [])
    if not collector.entries:
        return Comparison(Outcome.MATCH)
    rule = expected_difference(legacy_sig, native_sig)
    if rule is not None:
        # A documented deviation (docs/compatibility.md): counted, never reported as a mismatch.
        return Comparison(Outcome.IGNORED, collector.text(), reason=f"expected:{rule}")
    return Comparison(Outcome.MISMATCH, collector.text())
