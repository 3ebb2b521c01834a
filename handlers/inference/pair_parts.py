"""Small building blocks the pair modules (``pairs_*.py``) share.

A pair's translation is nearly always "this upstream body, this stream flag, and two closures";
:class:`FunctionTranslation` is that shape once. The item readers turn what the executor hands a
stream translator (an SSE ``StreamEvent``, or raw bytes from a Gemini ``alt=json`` upstream) into
JSON the translators read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from handlers.providers.base import StreamEvent
from handlers.translation.sse import loads_upstream

from .translate import StreamTranslator

Item = StreamEvent | bytes


@dataclass(slots=True)
class FunctionTranslation:
    """A ``Translation`` whose answer and stream come from two closures (the pair keeps its state in them)."""

    upstream_body: dict[str, Any]
    upstream_stream: bool
    respond: Callable[[bytes], bytes]
    open_stream: Callable[[], StreamTranslator]
    # The same answer as ``respond``, from the stream's decoded event payloads: the executor has
    # parsed the SSE and the JSON already, so a non-stream client's fold need not do it again.
    respond_payloads: Callable[[list[Any]], bytes] | None = None

    def response(self, upstream: bytes) -> bytes:
        return self.respond(upstream)

    def stream(self) -> StreamTranslator:
        return self.open_stream()


def item_payload(item: Item) -> Any:
    """The decoded JSON of one upstream item (raw bytes are parsed here; ``[DONE]`` reads as None)."""
    if isinstance(item, StreamEvent):
        return item.payload
    try:
        return loads_upstream(item)
    except orjson.JSONDecodeError:
        return None


def json_object(upstream: bytes) -> dict[str, Any]:
    """A whole upstream answer as a JSON object; anything unreadable or not an object reads as {}."""
    try:
        value = loads_upstream(upstream)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
