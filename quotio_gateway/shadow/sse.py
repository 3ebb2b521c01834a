"""How the shadow comparator splits a captured SSE body: the shared parser of ``quotio_gateway.sse``.

It keeps a block that names an event but carries no ``data:`` line (the spec drops it): if one side
sends a stray ``event:`` line, the signatures should differ rather than both hide it.
"""

from __future__ import annotations

from quotio_gateway.sse import SSEEvent
from quotio_gateway.sse import split_events as _split_events


def split_events(body: bytes) -> list[SSEEvent]:
    return _split_events(body, keep_dataless=True)
