"""The executor interface shared by every API-key upstream, and the error classification.

An executor turns (credential, already-translated JSON body) into one HTTP call to its upstream
and hands back either the whole answer (``UpstreamResult``) or an open stream of parsed SSE events
(``http.UpstreamStream``). Translation, thinking and payload rules happen before; rotation and
cooldowns happen after, driven by ``UpstreamError.scope`` and ``.status``.

Facts: CLIProxyAPI v6.7.15 ``internal/runtime/executor/*.go`` and ``sdk/cliproxy/auth/conductor.go``
(reference: cliproxyapi-providers.md §0, translation-resilience B5/B6/B8, surface §5).
"""

from __future__ import annotations

import email.utils
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import orjson
from multidict import CIMultiDict, CIMultiDictProxy

# Taking IDs from the registry's one walk keeps executor ids equal to ModelRegistry's.
from handlers.models.registry import config_credential_ids, split_thinking_suffix
from handlers.translation.gjson_values import member_of, text_of
from quotio_gateway.config.models import Config
from quotio_gateway.gostrings import go_trim

from .upstream_log import note_request

if TYPE_CHECKING:
    from .http import UpstreamClient, UpstreamStream

# "model": this credential's model cannot take the request as it is (a thinking setting outside
# what its provider lists for the model), while a credential of another provider may; the legacy
# moves on without a cooldown (conductor.go:597-610, MarkResult's default branch).
Scope = Literal["request", "credential", "quota", "transient", "model"]

# --- errors ---------------------------------------------------------------------------------

# The reason words the legacy conductor records per status (conductor.go applyAuthFailureState).
_CREDENTIAL_REASONS = {401: "unauthorized", 402: "payment_required", 403: "payment_required", 404: "not_found"}


class UpstreamError(Exception):
    """A failed upstream call.

    ``status`` is the upstream HTTP status, or ``None`` when no status exists (connect failure,
    reset, timeout, malformed stream); a client answer then uses 500 (``client_status``), as the
    legacy handler does for errors without a status. ``body`` is the upstream body verbatim
    (passed through to the client when it is JSON, surface §5) or our own message.

    ``retry_after`` is the cooldown hint the legacy conductor would use (seconds); it only ever
    comes from a Google-style body on executors that parse it. ``retry_after_header`` is the
    ``Retry-After`` header of a 429 answer, which the legacy ignores; rotation may honour it.
    """

    def __init__(self, scope: Scope, status: int | None, body: bytes, *, reason: str = "",
                 retry_after: float | None = None, retry_after_header: float | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"upstream {status if status is not None else 'transport'} error ({scope})")
        self.scope: Scope = scope
        self.status = status
        self.body = body
        self.reason = reason or scope
        self.retry_after = retry_after
        self.retry_after_header = retry_after_header
        self.headers: Mapping[str, str] = CIMultiDict(headers or {})
        # Set once an in-band error event went to the client as the upstream wrote it (a
        # same-protocol stream): nothing of ours is framed after it.
        self.delivered = False
        # Set on the error for a stream that ended cleanly before its terminal event: the client is
        # told (compatibility rows 4 and 4a), but the legacy's stream readers count a clean end of
        # body as the credential's success.
        self.truncated = False
        # Set on an in-band error event that came after payload had gone to the client: the
        # legacy reads it as one more line of a stream that succeeded (conductor.go:709-725).
        self.after_payload = False
        # Set on a failure while reading a body whose status line and headers had arrived (a
        # reset or silence mid-body): the upstream took the request, which is not the same as
        # never reaching it (Antigravity falls back to its next base only for the latter).
        self.mid_body = False

    @property
    def client_status(self) -> int:
        return self.status if self.status is not None else 500

    @property
    def message(self) -> str:
        if not self.body and self.status is not None:
            # The legacy executors' ``statusErr`` says "status N" when the upstream body was
            # empty (openai_compat_executor.go:379-384); a blank but non-empty body stays blank,
            # and the answer then takes the status text.
            return f"status {self.status}"
        return self.body.decode("utf-8", errors="replace")

    @property
    def client_text(self) -> str:
        """``message`` for the client's answer: bytes that are not UTF-8 stay as lone surrogates
        (``surrogateescape``), so a JSON body goes back byte for byte and the error encoder can
        write Go's ``\\ufffd`` once per bad byte (handlers.go:57-67 works on the raw body)."""
        if not self.body and self.status is not None:
            return self.message
        return self.body.decode("utf-8", errors="surrogateescape")

    def __repr__(self) -> str:
        return f"UpstreamError(scope={self.scope!r}, status={self.status!r}, reason={self.reason!r})"


def transport_error(message: str, *, status: int | None = None) -> UpstreamError:
    """An error with no upstream answer behind it: always worth another credential or a retry."""
    return UpstreamError("transient", status, message.encode(), reason="transient")


def scope_for_status(status: int) -> Scope:
    """Which part of the attempt a status blames.

    401/402/403/404 blame the credential (the legacy cools it 30 min / 12 h for the model), 429 is
    quota (exponential or hinted cooldown), 408 and every 5xx are transient (the legacy cools only
    408/500/502/503/504 for 1 min; callers needing that exact table read ``status``), anything else
    is the request's own fault and says nothing about the credential.
    """
    if status in _CREDENTIAL_REASONS:
        return "credential"
    if status == 429:
        return "quota"
    if status == 408 or status >= 500:
        return "transient"
    return "request"


def classify(status: int, body: bytes, headers: Mapping[str, str] | None = None, *,
             google_hint: bool = False, now: float | None = None) -> UpstreamError:
    """The error for a non-2xx upstream answer.

    ``google_hint`` turns on the legacy ``parseRetryDelay`` for 429s (gemini-cli and antigravity
    executors only; the API-key executors of v6.7.15 never parse it, whatever the reference's
    §5.6 says: ``gemini_executor.go`` builds a plain ``statusErr``).
    """
    scope = scope_for_status(status)
    reason = _CREDENTIAL_REASONS.get(status, "quota" if scope == "quota" else scope)
    if status == 400 and google_key_refused(body):
        # Google refuses a bad or expired API key with 400, not 401: the key's fault, not the
        # request's, so the next credential is tried (compatibility row 3). 400 still cools nothing.
        scope, reason = "credential", "invalid_api_key"
    elif status == 400 and anthropic_account_refused(body):
        # Anthropic answers an account without credit, or a disabled organisation, with a 400
        # invalid_request_error: the account's fault, the same request serves on another key.
        scope, reason = "credential", "account_refused"
    hint = google_retry_delay(body) if google_hint and status == 429 else None
    header_hint = None
    if headers is not None and scope == "quota":
        header_hint = parse_retry_after(CIMultiDict(headers).get("Retry-After", ""), now=now)
    return UpstreamError(scope, status, body, reason=reason, retry_after=hint,
                         retry_after_header=header_hint, headers=headers)


# ``google.rpc.ErrorInfo`` reasons (and their messages) Google gives a key it will not take, under 400.
_GOOGLE_KEY_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_EXPIRED"})
_GOOGLE_KEY_MESSAGES = ("API key not valid", "API key expired")


def google_key_refused(body: bytes) -> bool:
    """Whether a Google error body says the API key itself was refused. The native API sends an
    object ``{"error": …}``; its OpenAI-compatible endpoint a list holding one."""
    if b"API_KEY_" not in body and b"API key" not in body:
        return False
    error = _error_object(body)
    if error is None:
        return False
    details = error.get("details")
    for detail in details if isinstance(details, list) else ():
        if isinstance(detail, dict) and text_of(detail.get("reason")) in _GOOGLE_KEY_REASONS:
            return True
    message = error.get("message")
    return isinstance(message, str) and message.startswith(_GOOGLE_KEY_MESSAGES)


# Messages of Anthropic's 400 ``invalid_request_error`` answers that refuse the account, not the request.
_ANTHROPIC_ACCOUNT_MESSAGES = ("Your credit balance is too low", "This organization has been disabled")


def anthropic_account_refused(body: bytes) -> bool:
    """Whether an Anthropic error body says the account cannot be served (no credit, disabled)."""
    if b"credit balance" not in body and b"organization has been disabled" not in body:
        return False
    error = _error_object(body)
    message = error.get("message") if error is not None else None
    return isinstance(message, str) and message.startswith(_ANTHROPIC_ACCOUNT_MESSAGES)


def _error_object(body: bytes) -> dict[str, Any] | None:
    """The ``error`` object of a JSON error body (Google's OpenAI-compatible endpoint sends a list
    holding one), or None."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(doc, list) and doc:
        doc = doc[0]
    error = doc.get("error") if isinstance(doc, dict) else None
    return error if isinstance(error, dict) else None


_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_AFTER_SECONDS = re.compile(r"after\s+(\d+)s\.?")


def parse_go_duration(text: str) -> float | None:
    """``time.ParseDuration`` for the values Google sends ("0.847s", "373.8ms"), a sign included
    as Go takes one ("-1s" is a cooldown already over)."""
    text = text.strip()
    sign = -1.0 if text[:1] == "-" else 1.0
    if text[:1] in ("-", "+"):
        text = text[1:]
    if not text:
        return None
    if text == "0":
        return 0.0
    total, at = 0.0, 0
    for match in _GO_DURATION_PART.finditer(text):
        if match.start() != at:
            return None
        total += float(match.group(1)) * _GO_UNITS[match.group(2)]
        at = match.end()
    return sign * total if at == len(text) and at else None


def google_retry_delay(body: bytes) -> float | None:
    """``parseRetryDelay``: RetryInfo.retryDelay, then ErrorInfo.metadata.quotaResetDelay, then
    "after Ns" in ``error.message``."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    error = doc.get("error") if isinstance(doc, dict) else None
    if not isinstance(error, dict):
        return None
    details = error.get("details")
    details = [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []
    for detail in details:
        if text_of(detail.get("@type")) == "type.googleapis.com/google.rpc.RetryInfo":
            value = text_of(detail.get("retryDelay"))
            if value:
                # The first RetryInfo with a delay decides, even one that does not parse: then
                # there is no hint at all and the backoff applies (gemini_cli_executor.go:854-866).
                return parse_go_duration(value)
    for detail in details:
        if text_of(detail.get("@type")) == "type.googleapis.com/google.rpc.ErrorInfo":
            value = text_of(member_of(detail.get("metadata"), "quotaResetDelay"))
            if value and (parsed := parse_go_duration(value)) is not None:
                return parsed
    message = error.get("message")
    if isinstance(message, str) and (match := _AFTER_SECONDS.search(message)):
        return float(match.group(1))
    return None


def parse_retry_after(value: str, *, now: float | None = None) -> float | None:
    """An HTTP ``Retry-After`` value (delta seconds or HTTP date) as seconds from now."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


# --- credentials ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class APIKeyCredential:
    """One config-backed API key as an executor needs it (values trimmed like the synthesizer)."""

    provider: str  # gemini, claude, codex, vertex, or an openai-compatibility provider key
    api_key: str
    base_url: str = ""
    proxy_url: str = ""  # entry proxy-url, else the global proxy-url
    headers: tuple[tuple[str, str], ...] = ()  # the entry's custom headers, empty ones dropped
    compat_name: str = ""  # openai-compatibility ``name`` as written
    id: str = ""  # the credential id ModelRegistry uses for the same entry
    priority: int = 0  # the entry's ``priority``: selection keeps the highest bucket (B5)

    def __repr__(self) -> str:
        # Never print the key: credentials end up in logs through reprs of larger objects.
        return f"APIKeyCredential(provider={self.provider!r}, base_url={self.base_url!r})"


# Names Go's request writer never takes from ``Request.Header`` (``reqWriteExcludeHeader``; HTTP/2
# leaves them out too): the host comes from the URL and the framing from the body, so a key's
# ``headers:`` entry for one of them changes nothing on the wire.
_WIRE_OWNED = frozenset({"host", "content-length", "transfer-encoding", "trailer"})


def custom_headers(headers: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """``extractCustomHeaders``: trimmed names and values, empty ones skipped, and the names Go
    writes from the request itself left out."""
    out = []
    for name, value in headers.items():
        name, value = go_trim(str(name)), go_trim(str(value))
        if name and value and name.lower() not in _WIRE_OWNED:
            out.append((name, value))
    return tuple(out)


def credentials_from_config(cfg: Config) -> list[APIKeyCredential]:
    """Every API-key credential the config defines, in the synthesizer's order (gemini, claude,
    codex, openai-compatibility, vertex). Key-less gemini/claude/codex entries register nothing;
    key-less vertex and openai-compatibility entries still do. Each carries the same ``id`` as
    the ``Credential`` that ``ModelRegistry`` builds for the entry, so a credential picked from
    the registry finds its executor input here."""
    global_proxy = go_trim(cfg.proxy_url)
    out: list[APIKeyCredential] = []
    ids = config_credential_ids(cfg)
    for provider, entries in (("gemini", cfg.gemini_api_key), ("claude", cfg.claude_api_key),
                              ("codex", cfg.codex_api_key)):
        for i, entry in enumerate(entries):
            key = go_trim(entry.api_key)
            if key:
                base = go_trim(entry.base_url)
                out.append(APIKeyCredential(provider, key, base, go_trim(entry.proxy_url) or global_proxy,
                                            custom_headers(entry.headers),
                                            id=ids[(provider, i, 0)],
                                            priority=int(entry.priority)))
    for i, compat in enumerate(cfg.openai_compatibility):
        provider = go_trim(compat.name).lower() or "openai-compatibility"
        keys = [(go_trim(e.api_key), go_trim(e.proxy_url)) for e in compat.api_key_entries] or [("", "")]
        base = go_trim(compat.base_url)
        for j, (key, proxy) in enumerate(keys):
            out.append(APIKeyCredential(provider, key, base, proxy or global_proxy, custom_headers(compat.headers),
                                        compat_name=compat.name,
                                        id=ids[("compat", i, j)],
                                        priority=int(compat.priority)))
    for i, vertex in enumerate(cfg.vertex_api_key):
        key, base = go_trim(vertex.api_key), go_trim(vertex.base_url)
        out.append(APIKeyCredential("vertex", key, base, go_trim(vertex.proxy_url) or global_proxy,
                                    custom_headers(vertex.headers),
                                    id=ids[("vertex", i, 0)],
                                    priority=int(vertex.priority)))
    return out


# --- requests and results -------------------------------------------------------------------


@dataclass(slots=True)
class UpstreamRequest:
    """What the pipeline hands an executor.

    ``model`` is the upstream model name (``ModelRegistry.upstream_model``); a thinking suffix is
    stripped here, as every legacy executor does. ``body`` is the translated JSON body with thinking
    and payload rules applied; executors copy it before their last-mile edits. ``client_headers``
    are the incoming request's headers: where the legacy uses ``EnsureHeader`` a client value wins.
    """

    model: str
    body: dict[str, Any]
    stream: bool = False
    client_headers: Mapping[str, str] = field(default_factory=dict)
    action: str = ""  # gemini/vertex: "countTokens" instead of (stream)generateContent
    alt: str = ""  # gemini/vertex ``alt``/``$alt`` (``sse`` means the default)
    # codex: Conversation_id / Session_id / prompt_cache_key, as the pipeline read it from the
    # client's body; None leaves it to the executor (the body's own key).
    prompt_cache_id: str | None = None
    # Whether the client asked for a stream (the legacy's ExecuteStream rather than Execute); None
    # means the same as ``stream``. A non-stream client folded from an upstream stream differs.
    client_stream: bool | None = None
    # The executor's ``before_payload`` edits are already in ``body`` (made before the payload
    # rules, as the legacy orders them): ``prepare`` leaves them as the rules left them.
    shaped: bool = False
    # The client's own body, before translation: Vertex's Imagen call is built from it.
    client_body: Mapping[str, Any] | None = None

    @property
    def wants_stream(self) -> bool:
        return self.stream if self.client_stream is None else self.client_stream

    @property
    def base_model(self) -> str:
        return split_thinking_suffix(self.model).name


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """One concrete HTTP call. Header names keep the spelling the legacy sends."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    raw_stream: bool = False  # stream chunks are handed back unparsed (Gemini ``alt=json``)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in reversed(self.headers) if k.lower() == lowered), None)


@dataclass(frozen=True, slots=True)
class UpstreamResult:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


class StreamEvent(NamedTuple):
    """One upstream SSE event; ``payload`` is its decoded JSON (``None`` for ``[DONE]``).

    A tuple for the same reason as ``SSEEvent``: one per upstream event, on every stream's hot path.

    ``error`` is set when the upstream reported a failure inside the stream (Claude ``event:
    error``, Codex ``response.failed``, an ``{"error": …}`` chunk): the event is still handed over
    so a same-protocol client can get it verbatim, and the stream ends after it.
    """

    event: str
    data: str
    payload: Any
    error: UpstreamError | None = None


class EnsureTable(tuple[tuple[str, str, str], ...]):
    """(name, lower-cased name, default already trimmed) rows for HeaderSet.ensure_all, with the
    set of lower-cased names, so a client's headers are read in one pass."""

    names: frozenset[str]


def ensure_table(defaults: Iterable[tuple[str, str]]) -> EnsureTable:
    table = EnsureTable((name, name.lower(), go_trim(default)) for name, default in defaults)
    table.names = frozenset(lowered for _, lowered, _ in table)
    return table


class HeaderSet:
    """Go ``http.Header`` semantics, ordered: ``set`` replaces case-insensitively.

    Keyed by the lower-cased name, so every operation is one dict lookup: executors build about
    twenty headers per call, and scanning a list for each one showed up in the per-request CPU.
    A replaced header moves to the end, as a delete followed by an append would.
    """

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: dict[str, tuple[str, str]] = {}

    def set(self, name: str, value: str) -> None:
        lowered = name.lower()
        self._items.pop(lowered, None)
        self._items[lowered] = (name, value)

    def delete(self, name: str) -> None:
        self._items.pop(name.lower(), None)

    def get(self, name: str) -> str:
        found = self._items.get(name.lower())
        return found[1] if found is not None else ""

    def ensure(self, client: Mapping[str, str], name: str, default: str) -> None:
        """``misc.EnsureHeader``: the client's non-blank value, else keep ours, else the default."""
        self.ensure_all(client, ensure_table(((name, default),)))

    def ensure_all(self, client: Mapping[str, str], table: EnsureTable) -> None:
        """``ensure`` for each row of a table built once by ``ensure_table``: the Claude executor
        ensures a dozen identity headers per request, most of them absent from the client's."""
        items = self._items
        if isinstance(client, CIMultiDict | CIMultiDictProxy):
            # One pass over the client's few headers instead of a lookup per row (a dozen for
            # Claude); the first value of a name wins, as ``get`` gives it.
            wanted = table.names
            given: dict[str, str] = {}
            for key, value in client.items():
                lowered_key = key.lower()
                if lowered_key in wanted and lowered_key not in given:
                    given[lowered_key] = value
        else:
            given = {lowered: header_value(client, name) for name, lowered, _ in table}
        for name, lowered, default in table:
            incoming = given.get(lowered, "")
            if incoming and (incoming := go_trim(incoming)):
                items.pop(lowered, None)
                items[lowered] = (name, incoming)
                continue
            current = items.get(lowered)
            if (current is not None and go_trim(current[1])) or not default:
                continue
            items.pop(lowered, None)
            items[lowered] = (name, default)

    def apply_custom(self, headers: tuple[tuple[str, str], ...]) -> None:
        for name, value in headers:
            self.set(name, value)

    def items(self) -> tuple[tuple[str, str], ...]:
        return tuple(self._items.values())


def header_value(headers: Mapping[str, str], name: str) -> str:
    """A case-insensitive header lookup on any mapping ("" when absent)."""
    # aiohttp hands request headers over as a read-only proxy: look those up directly too,
    # rather than lower-casing every name of the request for each header an executor sets.
    if isinstance(headers, CIMultiDict | CIMultiDictProxy):
        return headers.get(name, "")
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), "")


def json_bytes(body: Mapping[str, Any]) -> bytes:
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError as exc:
        # What the body reader accepts but the encoder refuses (nesting beyond orjson's 254
        # levels, an integer beyond 64 bits): the request's own doing, answered 400, not a crash.
        raise UpstreamError("request", 400, f"request body cannot be encoded: {exc}".encode(),
                            reason="request") from None


def inband_status_error(status: int | None, data: str) -> UpstreamError:
    """An in-stream failure: classified like an HTTP answer when the upstream named a status."""
    if status is not None and 400 <= status <= 599:
        return classify(status, data.encode())
    return transport_error(data)


# --- the executor ---------------------------------------------------------------------------


class Executor(ABC):
    """One upstream protocol. Subclasses say how to build the call and how to read its stream;
    sending, timeouts, cancellation and error classification are shared."""

    name: str = ""
    google_hint = False  # parse Google RetryInfo on 429 (no API-key executor does in v6.7.15)
    # The provider whose thinking rules apply, when not the upstream format's (iFlow speaks OpenAI
    # chat but has thinking fields of its own: iflow_executor.go:95 passes "iflow").
    thinking_target: str = ""
    # Payload rules run after the thinking step on every legacy executor but one: the
    # OpenAI-compatible one applies them first, so there a request's thinking suffix wins over a
    # rule's value (openai_compat_executor.go:93-95).
    payload_before_thinking = False
    # Token counting applies the thinking step too (a bad suffix is a 400 before any count), except
    # where the legacy's CountTokens skips it: Claude, Qwen and iFlow.
    thinking_on_count = True
    # Token counting runs the payload rules only where the legacy's CountTokens shares the generate
    # call's body builder: AI Studio's ``translateRequest`` (aistudio_executor.go:321, :401).
    payload_on_count = False
    # Stream chunks get FilterSSEUsageMetadata (usage_filter.py): the legacy Gemini API-key,
    # Antigravity and AI Studio executors run it, the Gemini CLI and Vertex ones do not.
    filters_usage_metadata = False
    # The legacy executor reads a stream line that is bare JSON (no ``data:``) as a chunk
    # (``jsonPayload``, usage_helpers.go:530-547): the Gemini-family executors do.
    bare_json_lines = False
    # A 200 ``application/json`` answer to a stream request is read whole and, when it is the
    # upstream's complete answer object, as the events it stands for (``whole_answer_events``,
    # whole_answers.py; compatibility row 4b). Only the executors whose upstreams are asked to
    # stream for every fold look; the choice is made once per response, from its Content-Type.
    reads_whole_answers = False

    def __init__(self, client: UpstreamClient) -> None:
        self.client = client

    @abstractmethod
    def prepare(self, credential: APIKeyCredential, request: UpstreamRequest) -> PreparedRequest:
        """URL, headers and body bytes for this credential; pure, no I/O."""

    def terminal(self, event: StreamEvent) -> bool:
        """True for the event that ends a complete stream; a stream that closes before one is an
        error. The default accepts any end."""
        return True

    @property
    def terminal_name(self) -> str:
        return "end of stream"

    def truncated_error(self) -> UpstreamError:
        """The error for a stream that ended cleanly but before its terminal event."""
        return transport_error(f"upstream stream closed before {self.terminal_name}")

    def inband_error(self, event: StreamEvent) -> UpstreamError | None:
        """An error the upstream reported inside a 200 stream."""
        return None

    def before_payload(self, credential: Any, body: dict[str, Any], base_model: str,
                       client_headers: Mapping[str, str], stream: bool) -> bool:
        """Edits the legacy executor makes to the translated body before its payload rules run, so
        a rule may still change what they wrote (Claude sets the model and cloaks; the OpenAI
        chat executors set the model; Qwen and iFlow also add their stream tools). Made in place;
        returns whether there are any, which the pipeline passes on as ``UpstreamRequest.shaped``.
        Executors that write the model after the rules (Gemini, Vertex, Codex) have none."""
        return False

    def whole_answer_events(self, payload: Any) -> list[dict[str, Any]] | None:
        """The stream events a whole JSON answer stands for, or None when it is no such answer
        (then its body is read as the stream it claims to be)."""
        return None

    def ends_answer(self, event: StreamEvent) -> bool:
        """An event after which the upstream ends its stream on purpose without the terminal
        event, the end saying so itself (Codex ``response.incomplete``). A stream client then
        gets the stream as it came and its normal end, with no error frame of ours (compatibility
        row 4 is for streams cut short); a non-stream fold still finds no answer in it."""
        return False

    def error_for(self, status: int, body: bytes, headers: Mapping[str, str]) -> UpstreamError:
        return classify(status, body, headers, google_hint=self.google_hint)

    def precheck(self, credential: APIKeyCredential, request: UpstreamRequest) -> None:
        """Raise before any I/O when the credential cannot serve at all (default: it can)."""
        return None

    async def count_locally(self, request: UpstreamRequest) -> bytes | None:
        """The answer to a ``countTokens`` request when this upstream has no counting endpoint
        and the legacy counts itself; None (the default) sends the request upstream."""
        return None

    async def execute(self, credential: APIKeyCredential, request: UpstreamRequest) -> UpstreamResult:
        """A non-stream call: the whole 2xx answer, or ``UpstreamError``."""
        self.precheck(credential, request)
        prepared = self.prepare(credential, request)
        note_request(prepared, self.name, credential)
        return await self.client.request(prepared, credential.proxy_url, self.error_for)

    async def stream(self, credential: APIKeyCredential, request: UpstreamRequest) -> UpstreamStream:
        """Open a stream call. A non-2xx answer raises here, before any event (legacy B8: such
        failures rotate credentials like non-stream ones). Use the result with ``async with``."""
        self.precheck(credential, request)
        prepared = self.prepare(credential, request)
        note_request(prepared, self.name, credential)
        return await self.client.stream(prepared, credential.proxy_url, self.error_for, executor=self)
