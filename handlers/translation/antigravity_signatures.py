"""The thinking-signature cache of the Claude <-> Antigravity pair (reference A2.13, A3.5).

Claude models behind Antigravity only accept a thinking block in the history when it carries the
signature Antigravity issued for exactly that text. Clients often send stale or foreign
signatures, so the legacy remembers, per conversation, which signature came with which thinking
text on the way out (``Antigravity -> Claude`` stream) and puts it back on the way in
(``Claude -> Antigravity`` request).

Keys: ``<model group>#<session id>`` then the first 16 hex digits of SHA-256(text). Entries live
three hours, refreshed on every hit. The session id comes from ``metadata.user_id`` (the part
after ``session_``) or else from a hash of the first user message.

This is the one piece of shared state in the translators: a process-wide instance
(``SIGNATURES``) like the legacy's package-level map, with an injectable clock for tests. It is
touched only from the event loop thread, so it needs no lock.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from handlers.translation.sse import json_text

TTL_SECONDS = 3 * 60 * 60
PURGE_INTERVAL_SECONDS = 10 * 60
MIN_SIGNATURE_LENGTH = 50
_TEXT_KEY_LENGTH = 16


def model_group(model: str) -> str:
    """The cache namespace of a model (signatures are shared within a family)."""
    for group in ("gpt", "claude", "gemini"):
        if group in model:
            return group
    return model


def is_valid_signature(signature: str) -> bool:
    return len(signature) >= MIN_SIGNATURE_LENGTH


def _text_key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:_TEXT_KEY_LENGTH]


class SignatureCache:
    __slots__ = ("_clock", "_last_purge", "_sessions")

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last_purge = clock()
        # session key -> text key -> (signature, last use)
        self._sessions: dict[str, dict[str, tuple[str, float]]] = {}

    def __len__(self) -> int:
        """Number of sessions held (expired ones count until a purge)."""
        return len(self._sessions)

    def put(self, model: str, session_id: str, text: str, signature: str) -> None:
        if not session_id or not text or not is_valid_signature(signature):
            return
        now = self._clock()
        if now - self._last_purge > PURGE_INTERVAL_SECONDS:
            # The legacy purges from a ten-minute ticker; piggy-backing on writes needs no task
            # and still bounds the cache to the conversations of the last few hours.
            self.purge()
        session = self._sessions.setdefault(f"{model_group(model)}#{session_id}", {})
        session[_text_key(text)] = (signature, now)

    def get(self, model: str, session_id: str, text: str) -> str:
        if not session_id or not text:
            return ""
        session = self._sessions.get(f"{model_group(model)}#{session_id}")
        if session is None:
            return ""
        key = _text_key(text)
        entry = session.get(key)
        if entry is None:
            return ""
        now = self._clock()
        if now - entry[1] > TTL_SECONDS:
            del session[key]
            return ""
        session[key] = (entry[0], now)  # sliding expiry
        return entry[0]

    def purge(self) -> None:
        """Drop expired entries and empty sessions (the legacy does this every ten minutes)."""
        now = self._clock()
        self._last_purge = now
        for name in list(self._sessions):
            session = self._sessions[name]
            for key in [k for k, (_, used) in session.items() if now - used > TTL_SECONDS]:
                del session[key]
            if not session:
                del self._sessions[name]

    def clear(self, session_id: str = "") -> None:
        if not session_id:
            self._sessions.clear()
            return
        for name in [n for n in self._sessions if n.endswith("#" + session_id)]:
            del self._sessions[name]


SIGNATURES = SignatureCache()


def session_id(body: dict[str, Any]) -> str:
    """The conversation id of a Claude request, as the legacy derives it for the cache."""
    metadata = body.get("metadata")
    user_id = metadata.get("user_id") if isinstance(metadata, dict) else None
    if isinstance(user_id, str) and "session_" in user_id:
        return user_id[user_id.index("session_") + len("session_") :]
    messages = body.get("messages")
    if not isinstance(messages, list):
        return ""
    for message in messages:
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        # The legacy hashes gjson's String() of the content: the string itself, or the raw JSON
        # of an array/object. We hash the compact JSON instead (the client's spacing is gone);
        # the id never leaves this process, it only has to be stable across a conversation.
        text = content if isinstance(content, str) else ("" if content is None else json_text(content))
        if not text and isinstance(content, list) and content and isinstance(content[0], dict):
            first = content[0].get("text")
            text = first if isinstance(first, str) else ""
        if text:
            return hashlib.sha256(text.encode()).hexdigest()[:32]
    return ""
