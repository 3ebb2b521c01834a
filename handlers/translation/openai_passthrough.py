"""Same-protocol pairs: OpenAI chat -> OpenAI-compatible (``openai/openai``) and Claude -> Claude.

``openai/openai`` is registered in the legacy but only rewrites ``model``; chunks go back with the
``data:`` prefix and ``[DONE]`` removed (the handler frames them again and writes its own
``[DONE]``), and a non-stream answer is the upstream body unchanged.

Claude -> Claude is not registered at all: the legacy sends the client's body as it came (the
executor sets the model) and forwards every upstream SSE line verbatim, or the upstream JSON body
for a non-stream call. Thinking and model fixups for both happen after translation, in the
pipeline, as for every pair.
"""

from __future__ import annotations

from typing import Any

OPENAI_DONE_DATA = "[DONE]"


def openai_request(body: dict[str, Any], model: str) -> dict[str, Any]:
    """The client's body with ``model`` replaced (in place when present, else appended)."""
    return {**body, "model": model}


def openai_chunk(data: str) -> bytes | None:
    """One upstream ``data:`` payload -> the client frame; None for ``[DONE]`` and empty data."""
    text = data.strip()
    if not text or text == OPENAI_DONE_DATA:
        return None
    # An event whose data came on several ``data:`` lines goes out on as many, so the client's
    # SSE reader joins it back (one prefix before joined lines would split the JSON).
    return b"data: " + text.encode().replace(b"\n", b"\ndata: ") + b"\n\n"


def claude_request(body: dict[str, Any], model: str) -> dict[str, Any]:
    """Unchanged except ``model``, which the legacy executor sets to the upstream name anyway."""
    return {**body, "model": model}


def claude_frame(event: str, data: str) -> bytes:
    """An upstream Claude SSE event written back as the upstream framed it (one ``data:`` line
    per line of data, then a blank line)."""
    out = b"event: " + event.encode() + b"\n" if event else b""
    for line in data.split("\n"):
        out += b"data: " + line.encode() + b"\n"
    return out + b"\n"
