"""The comparator's split: the shared parser (tests/quotio_gateway/test_sse.py) keeping data-less named blocks."""

from __future__ import annotations

from quotio_gateway.shadow.sse import split_events
from quotio_gateway.sse import SSEEvent


def test_named_block_without_data_is_kept_as_an_event() -> None:
    body = b"event: ping\n\ndata: x\n\nevent:\n\n"
    assert split_events(body) == [SSEEvent("", "ping"), SSEEvent("x"), SSEEvent("", "")]


def test_unterminated_last_event_is_kept() -> None:
    assert split_events(b"event: x\ndata: tail") == [SSEEvent("tail", "x")]
