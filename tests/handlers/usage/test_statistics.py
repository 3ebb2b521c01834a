"""The in-memory aggregate of logger_plugin.go: totals, buckets, snapshot shape and merges."""

from __future__ import annotations

import pytest

from handlers.usage.statistics import RequestDetail, RequestStatistics, Timestamp, UsageRecord, parse_rfc3339
from handlers.usage.tokens import TokenStats


def detail(at: str, *, failed: bool = False, tokens: TokenStats = TokenStats(3, 2, 0, 0, 0)) -> RequestDetail:
    stamp = parse_rfc3339(at)
    assert stamp is not None
    return RequestDetail(stamp, "user@example.com", "0123456789abcdef", tokens, failed)


def test_time_text_is_go_rfc3339nano() -> None:
    stamp = parse_rfc3339("2026-01-20T10:11:12.123456789+08:00")
    assert stamp is not None
    assert stamp.rfc3339_nano() == "2026-01-20T10:11:12.123456789+08:00"
    assert stamp.rfc3339_nano(utc=True) == "2026-01-20T02:11:12.123456789Z"
    assert (stamp.day(), stamp.hour()) == ("2026-01-20", 10)
    assert parse_rfc3339("2026-01-20T10:11:12.500Z").rfc3339_nano() == "2026-01-20T10:11:12.5Z"  # type: ignore[union-attr]
    assert parse_rfc3339("2026-01-20T10:11:12-05:30").rfc3339_nano() == "2026-01-20T10:11:12-05:30"  # type: ignore[union-attr]
    assert parse_rfc3339("0001-01-01T00:00:00Z") is None  # Go's zero time: the caller's now
    for bad in ("2026-01-20 10:11:12Z", "2026-01-20T10:11:12", "2026-13-01T00:00:00Z", "yesterday"):
        with pytest.raises(ValueError):
            parse_rfc3339(bad)
    now = Timestamp.now_local()
    assert parse_rfc3339(now.rfc3339_nano()) == now


def test_records_aggregate_per_key_model_day_and_hour() -> None:
    stats = RequestStatistics()
    stats.record(UsageRecord("client-key", "gpt-5", detail("2026-01-20T10:00:00Z")))
    stats.record(UsageRecord("client-key", "", detail("2026-01-20T23:30:00Z", failed=True, tokens=TokenStats())))
    stats.record(UsageRecord("POST /v1/messages", "claude", detail("2026-01-21T10:05:00Z",
                                                                    tokens=TokenStats(0, 0, 0, 4, 0))))
    snap = stats.snapshot()
    assert list(snap) == ["total_requests", "success_count", "failure_count", "total_tokens", "apis",
                          "requests_by_day", "requests_by_hour", "tokens_by_day", "tokens_by_hour"]
    assert (snap["total_requests"], snap["success_count"], snap["failure_count"], snap["total_tokens"]) == (3, 2, 1, 9)
    assert list(snap["apis"]) == ["POST /v1/messages", "client-key"]
    key = snap["apis"]["client-key"]
    assert (key["total_requests"], key["total_tokens"], list(key["models"])) == (2, 5, ["gpt-5", "unknown"])
    assert key["models"]["gpt-5"]["details"] == [{
        "timestamp": "2026-01-20T10:00:00Z", "source": "user@example.com", "auth_index": "0123456789abcdef",
        "tokens": {"input_tokens": 3, "output_tokens": 2, "reasoning_tokens": 0, "cached_tokens": 0,
                   "total_tokens": 5}, "failed": False}]
    assert snap["requests_by_day"] == {"2026-01-20": 2, "2026-01-21": 1}
    assert snap["requests_by_hour"] == {"10": 2, "23": 1}
    assert snap["tokens_by_hour"] == {"10": 9, "23": 0}


def test_nothing_is_recorded_while_disabled_but_merges_still_land() -> None:
    enabled = False
    stats = RequestStatistics(enabled=lambda: enabled)
    stats.record(UsageRecord("k", "m", detail("2026-01-20T10:00:00Z")))
    assert stats.total_requests == 0
    assert stats.merge([("k", [("m", [detail("2026-01-20T10:00:00Z")])])]) == (1, 0)
    assert stats.total_requests == 1


def test_merge_skips_duplicates_trims_names_and_keeps_empty_apis() -> None:
    stats = RequestStatistics()
    stats.record(UsageRecord("k", "m", detail("2026-01-20T10:00:00Z")))
    # The same instant written in another offset is the same request (the key is UTC text).
    same = detail("2026-01-20T12:00:00+02:00")
    added, skipped = stats.merge([
        (" k ", [("m", [same, detail("2026-01-20T11:00:00Z"), detail("2026-01-20T11:00:00Z")]),
                 ("  ", [detail("2026-01-20T12:00:00Z")])]),
        ("   ", [("m", [detail("2026-01-20T13:00:00Z")])]),
        ("idle", []),
    ])
    assert (added, skipped) == (2, 2)
    snap = stats.snapshot()
    assert list(snap["apis"]) == ["idle", "k"]
    assert snap["apis"]["idle"] == {"total_requests": 0, "total_tokens": 0, "models": {}}
    assert list(snap["apis"]["k"]["models"]) == ["m", "unknown"]
    assert snap["total_requests"] == 3
