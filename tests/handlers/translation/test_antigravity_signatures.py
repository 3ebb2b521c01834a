"""The Antigravity thinking-signature cache (A2.13, A3.5): keys, validity, sliding expiry."""

from __future__ import annotations

from handlers.translation.antigravity_signatures import (
    MIN_SIGNATURE_LENGTH,
    TTL_SECONDS,
    SignatureCache,
    is_valid_signature,
    model_group,
)

SIG = "x" * MIN_SIGNATURE_LENGTH


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_model_groups() -> None:
    assert [model_group(m) for m in ("gpt-5", "claude-opus-4", "gemini-3-pro", "other")] == [
        "gpt",
        "claude",
        "gemini",
        "other",
    ]


def test_validity_threshold() -> None:
    assert is_valid_signature(SIG)
    assert not is_valid_signature(SIG[1:])
    assert not is_valid_signature("")


def test_put_get_is_per_group_session_and_text() -> None:
    cache = SignatureCache(Clock())
    cache.put("claude-sonnet-4-5", "s1", "text", SIG)
    # any model of the same group finds it
    assert cache.get("claude-opus-4-thinking", "s1", "text") == SIG
    assert cache.get("gemini-3-pro", "s1", "text") == ""
    assert cache.get("claude-sonnet-4-5", "s2", "text") == ""
    assert cache.get("claude-sonnet-4-5", "s1", "other text") == ""


def test_short_or_incomplete_entries_are_ignored() -> None:
    cache = SignatureCache(Clock())
    cache.put("claude", "s", "t", SIG[1:])
    cache.put("claude", "", "t", SIG)
    cache.put("claude", "s", "", SIG)
    assert cache.get("claude", "s", "t") == ""


def test_sliding_expiry_and_purge() -> None:
    clock = Clock()
    cache = SignatureCache(clock)
    cache.put("claude", "s", "a", SIG)
    cache.put("claude", "s", "b", SIG)
    clock.now += TTL_SECONDS  # exactly at the limit: still valid, and refreshed by the read
    assert cache.get("claude", "s", "a") == SIG
    clock.now += 1
    assert cache.get("claude", "s", "b") == ""  # expired, dropped
    assert cache.get("claude", "s", "a") == SIG
    clock.now += TTL_SECONDS + 1
    cache.purge()
    assert cache.get("claude", "s", "a") == ""


def test_clear_one_session_or_all() -> None:
    cache = SignatureCache(Clock())
    cache.put("claude", "s1", "t", SIG)
    cache.put("gemini", "s1", "t", SIG)
    cache.put("claude", "s2", "t", SIG)
    cache.clear("s1")
    assert cache.get("claude", "s1", "t") == "" and cache.get("gemini", "s1", "t") == ""
    assert cache.get("claude", "s2", "t") == SIG
    cache.clear()
    assert cache.get("claude", "s2", "t") == ""


def test_writes_purge_expired_sessions_every_ten_minutes() -> None:
    clock = Clock()
    cache = SignatureCache(clock)
    cache.put("claude", "old", "t", SIG)
    clock.now += TTL_SECONDS + 1
    cache.put("claude", "new", "t", SIG)
    assert len(cache) == 1
    assert cache.get("claude", "new", "t") == SIG
