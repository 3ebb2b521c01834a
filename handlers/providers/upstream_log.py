"""The upstream half of a request log file: ``=== API REQUEST n ===`` and ``=== API RESPONSE n ===``
for every call made upstream while answering one client request, as the legacy executors record
them (``internal/runtime/executor/logging_helpers.go``) and the log writer prints them
(``logging/request_logger.go``: ``writeAPISection``).

One ``UpstreamLog`` per client request, made only while ``request-log`` is on and reachable from
the executors through ``UPSTREAM_LOG`` (the request's task context), so calls answered with
request logging off pay one context lookup per upstream call and nothing per chunk. Secrets go
through the same masking as every other log line (``quotio_gateway.logging``), not the legacy's
first-and-last-four-characters form. No I/O here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from handlers.usage.statistics import Timestamp
from quotio_gateway.gostrings import go_canonical_header_key, go_quote, go_trim
from quotio_gateway.logging import REDACTED, redact_header, redact_query

UPSTREAM_LOG: ContextVar[UpstreamLog | None] = ContextVar("quotio_upstream_log", default=None)

# The error text of an upstream call whose request context was cancelled, Go's ``context.Canceled``.
CONTEXT_CANCELED = "context canceled"

_WHITESPACE = b" \t\n\v\f\r\x85\xa0"  # bytes.TrimSpace on the ASCII/Latin-1 bytes it sees
_CLIENT_MOVED = frozenset({"Transfer-Encoding"})


def _stamp() -> str:
    return Timestamp.now_local().rfc3339_nano()


def go_headers(pairs: Iterable[tuple[str, str]] | None, drop: frozenset[str] = frozenset()) -> dict[str, list[str]]:
    """``pairs`` as a Go ``http.Header`` holds them: names in canonical form (``Header.Set`` and
    Go's header parsing both write it), each name's values together in arrival order, secrets
    masked; names in ``drop`` (canonical) left out."""
    grouped: dict[str, list[str]] = {}
    for name, value in pairs or ():
        key = go_canonical_header_key(name)
        if key not in drop:
            grouped.setdefault(key, []).append(redact_header(key, value))
    return grouped


def _headers(pairs: Iterable[tuple[str, str]] | None, drop: frozenset[str] = frozenset()) -> str:
    """``writeHeaders``: sorted by name, one line per value, ``<none>`` for no headers."""
    grouped = go_headers(pairs, drop)
    if not grouped:
        return "<none>\n"
    return "".join(f"{name}: {value}\n" for name in sorted(grouped) for value in grouped[name])


def _auth(provider: str, credential: Any) -> str:
    """``formatAuthInfo``: provider, credential id and label, and the credential's kind."""
    parts: list[str] = []
    for key, value in (("provider", provider), ("auth_id", getattr(credential, "id", "")),
                       ("label", _label(credential))):
        if go_trim(value or ""):
            parts.append(f"{key}={go_trim(value)}")
    if getattr(credential, "api_key", ""):
        parts.append(f"type=api_key value={REDACTED}")
    elif hasattr(credential, "tokens"):
        parts.append("type=oauth")
    return ", ".join(parts)


def _label(credential: Any) -> str:
    """The credential's label as the legacy's synthesizer gives it: a file's own label, an
    openai-compatibility entry's name, ``<provider>-apikey`` for the other config keys."""
    if getattr(credential, "api_key", ""):
        return getattr(credential, "compat_name", "") or f"{getattr(credential, 'provider', '')}-apikey"
    return getattr(credential, "label", "") or ""


@dataclass(slots=True)
class _Attempt:
    index: int
    request: str
    response: list[str] = field(default_factory=list)
    intro: bool = False
    status_written: bool = False
    headers_written: bool = False
    body_started: bool = False
    body_has_content: bool = False
    error_written: bool = False

    def open_response(self) -> None:
        if not self.intro:
            self.response.append(f"=== API RESPONSE {self.index} ===\nTimestamp: {_stamp()}\n\n")
            self.intro = True


class UpstreamLog:
    """The API REQUEST / API RESPONSE sections of one client request, built as the calls go."""

    def __init__(self) -> None:
        self._attempts: list[_Attempt] = []
        # The legacy keeps the response section as one value that every attempt update rebuilds
        # and that error answers append to; ``_appended`` is what was added since the last rebuild.
        self._appended = b""
        # A value a handler set outright (``c.Set("API_RESPONSE", …)``), until an attempt's update
        # rebuilds the section from the attempts again.
        self._set: bytes | None = None
        # Set while the call's stream is read whole for a non-stream client (``_drain``).
        self.whole_bodies = False

    # -- the executors' side (recordAPIRequest and friends) --

    def request(self, *, url: str, method: str, headers: Iterable[tuple[str, str]], body: bytes,
                provider: str, credential: Any) -> None:
        index = len(self._attempts) + 1
        text = [f"=== API REQUEST {index} ===\nTimestamp: {_stamp()}\n",
                f"Upstream URL: {redact_query(url) if url else '<unknown>'}\n"]
        if method:
            text.append(f"HTTP Method: {method}\n")
        if auth := _auth(provider, credential):
            text.append(f"Auth: {auth}\n")
        text += ["\nHeaders:\n", _headers(headers), "\nBody:\n",
                 body.decode("utf-8", "replace") if body else "<empty>", "\n\n"]
        self._attempts.append(_Attempt(index, "".join(text)))

    def response_head(self, status: int, headers: Iterable[tuple[str, str]]) -> None:
        attempt = self._current()
        attempt.open_response()
        if status > 0 and not attempt.status_written:
            attempt.response.append(f"Status: {status}\n")
            attempt.status_written = True
        if not attempt.headers_written:
            # Go's client moves Transfer-Encoding out of the answer's header map (resp.TransferEncoding).
            attempt.response += ["Headers:\n", _headers(headers, _CLIENT_MOVED), "\n"]
            attempt.headers_written = True
        self._rebuilt()

    def error(self, text: str) -> None:
        attempt = self._current()
        attempt.open_response()
        if attempt.body_started and not attempt.body_has_content:
            attempt.body_started = False
        if attempt.error_written:
            attempt.response.append("\n")
        attempt.response.append(f"Error: {text}\n")
        attempt.error_written = True
        self._rebuilt()

    def chunk(self, data: bytes) -> None:
        """One upstream body piece (a whole body, or one line of a stream); blank ones are skipped."""
        data = data.strip(_WHITESPACE)
        if not data:
            return
        attempt = self._current()
        attempt.open_response()
        if not attempt.headers_written:
            attempt.response += ["Headers:\n", "<none>\n", "\n"]
            attempt.headers_written = True
        if not attempt.body_started:
            attempt.response.append("Body:\n")
            attempt.body_started = True
        if attempt.body_has_content:
            attempt.response.append("\n\n")
        attempt.response.append(data.decode("utf-8", "replace"))
        attempt.body_has_content = True
        self._rebuilt()

    def stream_lines(self, chunk: bytes, carry: bytes) -> bytes:
        """Record the complete lines of ``carry + chunk`` (the legacy reads streams line by line);
        returns the unfinished tail to pass back with the next chunk (``b""`` at the end)."""
        lines = (carry + chunk).split(b"\n")
        for line in lines[:-1]:
            self.chunk(line)
        return lines[-1]

    def recording(self, read: Callable[[], Awaitable[bytes]]) -> Callable[[], Awaitable[bytes]]:
        """``read`` (a stream's next chunk, ``b""`` at its end) with every chunk recorded: one
        piece for a stream read whole for a non-stream client, as the legacy's ReadAll gives it,
        else one piece per line, as its scanner reads a stream a client gets."""
        carry = b""
        whole = self.whole_bodies

        async def read_and_record() -> bytes:
            nonlocal carry
            try:
                chunk = await read()
            except BaseException:
                # What came before a failure is kept; the failure itself is noted by the stream,
                # which alone knows whether it ended the answer.
                if whole:
                    self.chunk(carry)
                    carry = b""
                raise
            if whole and chunk:
                carry += chunk
            elif whole:
                self.chunk(carry)
                carry = b""
            else:
                carry = self.stream_lines(chunk or b"\n", carry)
            return chunk

        return read_and_record

    def _rebuilt(self) -> None:
        self._appended = b""
        self._set = None

    # -- the handlers' side (WriteErrorResponse, c.Set) --

    def set_response(self, data: bytes) -> None:
        """The section replaced by a handler's own value (the Gemini CLI pass-through's answer)."""
        self._set = data
        self._appended = b""

    def error_answer(self, message: str, body: bytes) -> None:
        """An error answer's body joins the response section unless the upstream's own answer
        already holds it or its message (``WriteErrorResponse``)."""
        previous = self.api_response()
        trimmed = body.strip(_WHITESPACE)
        if previous and ((message.strip() and message.strip().encode() in previous)
                         or (trimmed and trimmed in previous)):
            return
        if body:
            self._appended += (b"\n" if previous and not previous.endswith(b"\n") else b"") + body

    # -- the log file's side --

    def api_request(self) -> bytes:
        return "".join(attempt.request for attempt in self._attempts).encode()

    def api_response(self) -> bytes:
        if self._set is not None:
            return self._set + self._appended
        pieces: list[str] = []
        last = len(self._attempts) - 1
        for position, attempt in enumerate(self._attempts):
            text = "".join(attempt.response)
            if not text:
                continue
            pieces.append(text if text.endswith("\n") else text + "\n")
            if position < last:
                pieces.append("\n")
        return "".join(pieces).encode() + self._appended

    def _current(self) -> _Attempt:
        if not self._attempts:
            # A response with no request recorded before it (``ensureAttempt``).
            self._attempts.append(_Attempt(1, "=== API REQUEST 1 ===\n<missing>\n\n"))
        return self._attempts[-1]


def api_section(header: str, prefix: str, payload: bytes) -> bytes:
    """``writeAPISection``: nothing for no payload; a payload that starts with its own heading goes
    as it is, anything else under ``header``; then a blank line."""
    if not payload:
        return b""
    if payload.startswith(prefix.encode()):
        return payload + (b"" if payload.endswith(b"\n") else b"\n") + b"\n"
    return header.encode() + payload + b"\n\n"


class CancelledCall:
    """What the upstream call in flight failed with when the client hung up, for a handler that
    still answers then (a non-stream one). The legacy's call fails on its cancelled context with
    Go's ``url.Error`` while it waits for the answer's head (``Post "<url>": context canceled``),
    with the bare ``context canceled`` while it reads the body or waits out a cooldown between
    passes (conductor.go:1239-1250)."""

    __slots__ = ("text",)

    def __init__(self) -> None:
        self.text = CONTEXT_CANCELED


CANCELLED_CALL: ContextVar[CancelledCall | None] = ContextVar("quotio_cancelled_call", default=None)


def head_cancelled(method: str, url: str) -> str:
    """Go's ``url.Error`` text for a call cancelled before its answer's head: the method as
    ``urlErrorOp`` spells it ("Post"), the URL quoted as ``%q`` quotes it; a secret in its query is masked."""
    op = method[:1] + method[1:].lower() if method else "Get"
    return f"{op} {go_quote(redact_query(url))}: {CONTEXT_CANCELED}"


def note_cancelled(text: str) -> None:
    """The call in flight failed because the client hung up: its error goes into the request log
    as the executors record it (``recordAPIResponseError``), and to a handler waiting on it."""
    log = UPSTREAM_LOG.get()
    if log is not None:
        log.error(text)
    call = CANCELLED_CALL.get()
    if call is not None:
        call.text = text


def note_request(prepared: Any, provider: str, credential: Any) -> None:
    """Record one upstream call about to be sent, when this client request keeps a log."""
    log = UPSTREAM_LOG.get()
    if log is not None:
        log.request(url=prepared.url, method=prepared.method, headers=prepared.headers, body=prepared.body,
                    provider=provider, credential=credential)
