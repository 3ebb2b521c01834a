"""Timestamps in a usage import as Go's Time.UnmarshalJSON reads them: time.Parse(time.RFC3339, …)
(parseStrictRFC3339's strict checks are disabled, Go 1.24 time/format_rfc3339.go:168-170): fraction
digits past nine are read and dropped, "," separates a fraction too, the hour may be one digit,
an offset may say 60 minutes (one of a day or more is refused: Go takes it, then cannot marshal
it, and its /usage answers 500 from then on), and the zero time is the instant, whatever offset wrote it."""

from __future__ import annotations

import pytest

from handlers.usage.statistics import parse_rfc3339


def test_long_fractions_are_truncated_to_nanoseconds() -> None:
    stamp = parse_rfc3339("2026-01-01T10:00:00.1234567891+02:00")
    assert stamp is not None
    assert stamp.rfc3339_nano() == "2026-01-01T10:00:00.123456789+02:00"


def test_what_go_parse_accepts_beyond_rfc3339() -> None:
    assert parse_rfc3339("2026-01-01T10:00:00,5Z").rfc3339_nano() == "2026-01-01T10:00:00.5Z"  # type: ignore[union-attr]
    assert parse_rfc3339("2026-01-01T1:00:00Z").rfc3339_nano() == "2026-01-01T01:00:00Z"  # type: ignore[union-attr]
    assert parse_rfc3339("2026-01-01T10:00:00-02:60").rfc3339_nano(utc=True) == "2026-01-01T13:00:00Z"  # type: ignore[union-attr]
    stamp = parse_rfc3339("2026-01-01T10:00:00+23:59")
    assert stamp is not None and (stamp.day(), stamp.hour()) == ("2026-01-01", 10)


@pytest.mark.parametrize("text", ["2026-01-01T10:00:00+24:00", "2026-01-01T10:00:00+23:60",
                                  "2026-01-01T10:00:00+25:00", "2026-01-01T10:00:00-02:61", "2026-01-01t10:00:00Z",
                                  "2026-01-01T10:00:00z", "2026-01-01T24:00:00Z", "2026-01-01T10:00:60Z"])
def test_what_go_parse_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rfc3339(text)


def test_the_zero_instant_in_any_offset_is_go_zero_time() -> None:
    assert parse_rfc3339("0001-01-01T02:00:00+02:00") is None
    assert parse_rfc3339("0001-01-01T00:00:00-01:00") is not None  # an hour after the zero instant
