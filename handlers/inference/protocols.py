"""What differs per client protocol once a request is in the pipeline: error frames and headers.

Reference: surface §5 (one error serialiser, verbatim JSON passthrough) and §6 (framing table).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from handlers.models.listing import build_error_body
from handlers.translation.model import Format
from handlers.translation.sse import encode_claude_error, encode_gemini_error, normalise_alt

# (status, error text, alt) -> the terminal frame written after headers went out.
ErrorFrame = Callable[[int, str, str], bytes]

# Every legacy stream handler sets these four (e.g. openai_handlers.go:462-466). Go swaps the
# ``Connection`` value for ``close`` when the connection will not be kept; aiohttp keeps whatever
# the handler set, so the stream writer drops it then (aiohttp adds ``close`` itself).
SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "Connection": "keep-alive",
    "Access-Control-Allow-Origin": "*",
}
# Go's net/http sniffs the first write when no Content-Type was set (Gemini alt=json streams).
SNIFFED_JSON = {"Content-Type": "text/plain; charset=utf-8"}


def _openai_frame(status: int, text: str, alt: str) -> bytes:
    return b"data: " + build_error_body(status, text) + b"\n\n"


def _responses_frame(status: int, text: str, alt: str) -> bytes:
    return b"\nevent: error\ndata: " + build_error_body(status, text) + b"\n\n"


def _claude_frame(status: int, text: str, alt: str) -> bytes:
    return encode_claude_error(text)


def _gemini_frame(status: int, text: str, alt: str) -> bytes:
    return encode_gemini_error(build_error_body(status, text), alt)


@dataclass(frozen=True, slots=True)
class ClientProtocol:
    """One client-facing protocol.

    ``nonstream_keepalive``: whether ``nonstream-keepalive-interval`` applies (surface §6: Claude
    messages, legacy completions, Responses, Gemini generateContent). ``headers_up_front``: the
    Gemini CLI handler commits SSE headers before the upstream answers (when ``alt`` is empty).
    ``status_with_error_frame``: the handler sets the error's status before writing a stream's
    terminal error frame (code_handlers.go:282); the client still sees the committed 200, but
    the request log records that status.
    """

    name: str
    format: Format
    error_frame: ErrorFrame
    nonstream_keepalive: bool = False
    headers_up_front: bool = False
    status_with_error_frame: bool = False

    def stream_headers(self, alt: str) -> dict[str, str]:
        if self.format in (Format.GEMINI, Format.GEMINI_CLI) and normalise_alt(alt):
            return dict(SNIFFED_JSON)
        return dict(SSE_HEADERS)

    def keepalive_allowed(self, alt: str) -> bool:
        return not (self.format in (Format.GEMINI, Format.GEMINI_CLI) and normalise_alt(alt))


OPENAI_CHAT = ClientProtocol("openai-chat", Format.OPENAI, _openai_frame)
OPENAI_COMPLETIONS = ClientProtocol("openai-completions", Format.OPENAI, _openai_frame, nonstream_keepalive=True)
RESPONSES = ClientProtocol("openai-responses", Format.OPENAI_RESPONSE, _responses_frame, nonstream_keepalive=True)
CLAUDE = ClientProtocol("claude", Format.CLAUDE, _claude_frame, nonstream_keepalive=True,
                        status_with_error_frame=True)
GEMINI = ClientProtocol("gemini", Format.GEMINI, _gemini_frame, nonstream_keepalive=True)
# Counting has no keep-alive and no stream; the protocols differ only in name (for logs).
CLAUDE_COUNT = ClientProtocol("claude-count-tokens", Format.CLAUDE, _claude_frame)
GEMINI_COUNT = ClientProtocol("gemini-count-tokens", Format.GEMINI, _gemini_frame)
GEMINI_CLI = ClientProtocol("gemini-cli", Format.GEMINI_CLI, _gemini_frame, headers_up_front=True)
