"""The typed internal model every protocol parser produces and every renderer consumes.

Why dataclasses with ``slots`` and not pydantic: these objects live only inside one request, are
built by our own parsers (never from untrusted input directly), and are created per stream chunk.
Validation already happens where the wire JSON is read, so pydantic's per-field validation would be
paid on every delta for nothing; slotted dataclasses are several times cheaper to build and read.

Shape, in one breath:

* ``Request`` = sampling fields + ``messages`` (each a ``Message`` with a ``Role`` and ordered
  ``parts``) + ``tools`` + ``tool_choice`` + ``thinking``. System prompts are ``Role.SYSTEM``
  messages kept where the client put them, because some pairs care about the position (OpenAI chat
  -> Claude inserts them at the first system message's place).
* ``Response`` = id/model/created + ordered ``parts`` + ``finish`` + ``usage`` (non-stream).
* Stream events (``MessageStart``, ``TextDelta``, ``ThinkingDelta``, ``ThinkingEnd``, ``ToolCallStart``,
  ``ToolCallDelta``, ``ToolCallEnd``, ``Finish``, ``UsageReport``, ``StreamError``, ``StreamEnd``)
  are what an upstream stream parser emits and a client stream renderer consumes.

Finish reasons and usage keep the upstream's own vocabulary (``FinishReason.native``, the raw
counters in ``Usage``) together with the upstream ``Format``: the legacy server's arithmetic and
tables differ per upstream->client pair, so the conversion happens at render time through the
tables in ``finish_reasons.py`` and ``usage.py`` rather than by normalising early and losing facts.
``Request.source`` plays the same role for the few request-side rules that depend on the client
format (each such rule is marked where it lives).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Format(StrEnum):
    """Translator format identifiers, spelled as the legacy registry spells them (reference A1)."""

    OPENAI = "openai"
    OPENAI_RESPONSE = "openai-response"
    CLAUDE = "claude"
    GEMINI = "gemini"
    GEMINI_CLI = "gemini-cli"
    CODEX = "codex"
    ANTIGRAVITY = "antigravity"


class Role(StrEnum):
    SYSTEM = "system"
    # OpenAI's "developer" role: Gemini treats it as system, Claude drops it, so it stays distinct.
    DEVELOPER = "developer"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


# ``Role(value)`` goes through EnumType.__call__; the parsers look roles up once per message.
ROLES: dict[str, Role] = {role.value: role for role in Role}


@dataclass(slots=True)
class TextPart:
    text: str


@dataclass(slots=True)
class ImagePart:
    """An image as the client gave it: a URL (``data:`` or remote) or base64 data with a media type."""

    url: str = ""
    media_type: str = ""
    data: str = ""


@dataclass(slots=True)
class FilePart:
    """OpenAI ``file`` content part (only the Gemini renderer reads it)."""

    filename: str
    file_data: str


@dataclass(slots=True)
class ThinkingPart:
    text: str
    signature: str = ""
    redacted: bool = False


@dataclass(slots=True)
class ToolCallPart:
    """An assistant tool call. ``arguments`` is JSON text (OpenAI style); ``None`` = not given."""

    id: str
    name: str
    arguments: str | None


@dataclass(slots=True)
class ToolResultPart:
    """A tool's answer. ``content`` is the decoded JSON value the client sent (string, list, object)."""

    tool_call_id: str
    content: Any
    # ``content`` was there as JSON null (``content`` None alone also means it was missing): the
    # legacy's Claude-client translators write gjson's raw text of it, "null".
    content_null: bool = False


Part = TextPart | ImagePart | FilePart | ThinkingPart | ToolCallPart | ToolResultPart


@dataclass(slots=True)
class Message:
    role: Role
    parts: list[Part] = field(default_factory=list)
    # True when the client sent ``content`` as a bare string; some renderers keep that form.
    plain: bool = False
    # An OpenAI system or developer message as the legacy's OpenAI->Gemini translators read it: the
    # string, the ``text`` of an object ``{"type":"text"}``, or the ``text`` of every array entry
    # ("" for one that is not text). None for every other message.
    system_texts: list[str] | None = None
    # A Claude message's role as written when it is neither "user" nor "assistant" (gjson text:
    # "" when absent): the legacy's Claude->OpenAI translator copies it into the upstream message,
    # while every other renderer reads ``role`` (USER for such a message).
    wire_role: str | None = None

    def text(self) -> str:
        """The message's texts run together (the whole string of a ``plain`` message)."""
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))


@dataclass(slots=True)
class Tool:
    """A declared tool. Function tools have ``kind == "function"``; others keep their raw object."""

    name: str
    description: str = ""
    parameters: Any = None
    kind: str = "function"
    raw: dict[str, Any] | None = None


@dataclass(slots=True)
class ToolChoice:
    """``mode`` is one of auto / none / required / tool; ``name`` is set for ``tool``."""

    mode: str
    name: str = ""
    # The client's object when it is not a plain function choice (kept for renderers that pass it on).
    raw: Any = None


class ThinkingMode(StrEnum):
    NONE = "none"
    AUTO = "auto"
    BUDGET = "budget"
    LEVEL = "level"


@dataclass(slots=True, frozen=True)
class ThinkingConfig:
    """Reasoning intent: ``level`` is kept verbatim from the client (it may be an unknown word)."""

    mode: ThinkingMode
    budget: int = 0
    level: str = ""
    # A Claude ``budget_tokens`` that is there but not a JSON number, as gjson ``Int()`` reads it
    # (a numeric string parses, null is 0). The legacy's Claude->OpenAI translator uses that value;
    # its Gemini-family translators need a number and see no budget (``mode`` AUTO).
    coerced: int | None = None


@dataclass(slots=True)
class Request:
    source: Format
    model: str = ""
    messages: list[Message] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    thinking: ThinkingConfig | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: float | None = None
    n: int | None = None
    stop: list[str] | None = None
    stream: bool = False
    user: str | None = None
    # Top-level client fields no common slot exists for (response_format, modalities, ...).
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class FinishReason:
    native: str
    source: Format


@dataclass(slots=True)
class Usage:
    """Token counters in the upstream's own terms (see ``usage.py`` for per-pair arithmetic).

    ``input_tokens`` is what the upstream calls its prompt/input count; ``cache_read_tokens`` and
    ``cache_creation_tokens`` are Claude's cache counters or OpenAI/Gemini cached prompt tokens.
    """

    source: Format
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int | None = None
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0
    # False when the upstream omitted its output count (Gemini chunks before the first candidate).
    output_reported: bool = True
    # True when the upstream sent cache counters at all, even zero (Claude -> Gemini writes them).
    cache_reported: bool = False
    # Claude's ``thinking_tokens`` when sent (only the Claude -> Gemini translator reports it).
    thinking_tokens: int | None = None


@dataclass(slots=True)
class Response:
    id: str = ""
    model: str = ""
    created: int = 0
    parts: list[Part] = field(default_factory=list)
    finish: FinishReason | None = None
    usage: Usage | None = None


# --- stream events -------------------------------------------------------------------------


@dataclass(slots=True)
class MessageStart:
    id: str
    model: str = ""
    created: int = 0


@dataclass(slots=True)
class TextDelta:
    text: str


@dataclass(slots=True)
class ThinkingDelta:
    text: str


@dataclass(slots=True)
class ThinkingEnd:
    """The upstream closed a reasoning summary (Responses ``reasoning_summary_text.done``)."""


@dataclass(slots=True)
class SignatureDelta:
    signature: str


@dataclass(slots=True)
class ToolCallStart:
    """``index`` is the upstream's own key for the call (Claude block index, OpenAI tool index)."""

    index: int
    id: str
    name: str


@dataclass(slots=True)
class ToolCallDelta:
    index: int
    arguments: str


@dataclass(slots=True)
class ToolCallEnd:
    index: int


@dataclass(slots=True)
class Finish:
    """The upstream declared the end of the answer; ``usage`` when it came in the same message."""

    reason: FinishReason | None
    usage: Usage | None = None


@dataclass(slots=True)
class UsageReport:
    usage: Usage


@dataclass(slots=True)
class StreamError:
    message: str
    type: str = ""


@dataclass(slots=True)
class StreamEnd:
    """The upstream stream is over (OpenAI ``[DONE]`` or EOF)."""


StreamEvent = (
    MessageStart
    | TextDelta
    | ThinkingDelta
    | ThinkingEnd
    | SignatureDelta
    | ToolCallStart
    | ToolCallDelta
    | ToolCallEnd
    | Finish
    | UsageReport
    | StreamError
    | StreamEnd
)


def split_data_url(url: str) -> tuple[str, str] | None:
    """``data:<mime>;base64,<data>`` -> (mime, data); None unless exactly one comma separates them.

    The one-comma rule mirrors how the legacy translators split the URL (reference A2.1).
    """
    if not url.startswith("data:"):
        return None
    pieces = url.split(",")
    if len(pieces) != 2:
        return None
    media_type = pieces[0].split(";")[0][len("data:") :]
    return media_type, pieces[1]


def collect_response(events: list[StreamEvent]) -> Response:
    """Fold a stream of events into one ``Response`` (how non-stream answers are built from SSE).

    Consecutive text (or thinking) deltas become one part; tool calls keep the order in which they
    started, and a call that ended without any argument text gets ``"{}"`` (reference A2.2).
    """
    response = Response()
    tools: dict[int, tuple[ToolCallPart, list[str]]] = {}
    for event in events:
        if isinstance(event, MessageStart):
            response.id, response.model, response.created = event.id, event.model, event.created
        elif isinstance(event, TextDelta):
            last = response.parts[-1] if response.parts else None
            if isinstance(last, TextPart):
                last.text += event.text
            else:
                response.parts.append(TextPart(event.text))
        elif isinstance(event, ThinkingDelta):
            last = response.parts[-1] if response.parts else None
            if isinstance(last, ThinkingPart):
                last.text += event.text
            else:
                response.parts.append(ThinkingPart(event.text))
        elif isinstance(event, SignatureDelta):
            last = response.parts[-1] if response.parts else None
            if isinstance(last, ThinkingPart):
                last.signature += event.signature
        elif isinstance(event, ToolCallStart):
            call = ToolCallPart(event.id, event.name, "")
            tools[event.index] = (call, [])
            response.parts.append(call)
        elif isinstance(event, ToolCallDelta):
            if event.index in tools:
                tools[event.index][1].append(event.arguments)
        elif isinstance(event, ToolCallEnd):
            if event.index in tools:
                call, pieces = tools.pop(event.index)
                call.arguments = "".join(pieces) or "{}"
        elif isinstance(event, Finish):
            if event.reason is not None:
                response.finish = event.reason
            if event.usage is not None:
                response.usage = event.usage
        elif isinstance(event, UsageReport):
            response.usage = event.usage
    for call, pieces in tools.values():
        call.arguments = "".join(pieces)
    return response
