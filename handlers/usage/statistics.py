"""In-memory request statistics, aggregated as CLIProxyAPI's usage logger plugin does
(``internal/usage/logger_plugin.go``): totals, per client key and model with every request's
detail, and counts by day and by hour of the day. Nothing is persisted; export and import move
the details between processes.

Timestamps keep nanoseconds and their UTC offset, as Go's ``time.Time`` does, so an exported
snapshot imported again matches its own details exactly (the dedup key is the UTC RFC 3339 text).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from quotio_gateway.gostrings import go_trim

from .tokens import TokenStats

_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Timestamp:
    """A point in time to the nanosecond, with the UTC offset it was read or taken in."""

    epoch_ns: int
    offset_s: int

    @classmethod
    def now_local(cls) -> Timestamp:
        return cls.local(time.time_ns())

    @classmethod
    def local(cls, epoch_ns: int) -> Timestamp:
        """That instant in the server's local time zone, as Go's ``time.Local`` shows it."""
        offset = datetime.fromtimestamp(epoch_ns // _NS).astimezone().utcoffset() or timedelta(0)
        return cls(epoch_ns, int(offset.total_seconds()))

    def _wall(self) -> datetime:
        tz = UTC if self.offset_s == 0 else timezone(timedelta(seconds=self.offset_s))
        return datetime.fromtimestamp(self.epoch_ns // _NS, tz)

    def rfc3339_nano(self, *, utc: bool = False) -> str:
        """Go's ``time.RFC3339Nano``: fraction without trailing zeros, ``Z`` for UTC."""
        stamp = Timestamp(self.epoch_ns, 0) if utc else self
        wall = stamp._wall()
        fraction = f"{stamp.epoch_ns % _NS:09d}".rstrip("0")
        text = wall.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "")
        if stamp.offset_s == 0:
            return text + "Z"
        sign = "+" if stamp.offset_s > 0 else "-"
        minutes = abs(stamp.offset_s) // 60
        return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"

    def day(self) -> str:
        return self._wall().strftime("%Y-%m-%d")

    def hour(self) -> int:
        return self._wall().hour


# Time.UnmarshalJSON is time.Parse(time.RFC3339, …) (parseStrictRFC3339's strict checks are dead
# code, "case true: return t, nil"): a one- or two-digit hour, a fraction after "." or "," with any
# number of digits (the first nine count), an offset with 60 minutes. Time.IsZero is about the
# instant, whatever offset wrote it.
_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d+))?(?:(Z)|([+-])(\d{2}):(\d{2}))")
_GO_ZERO_SECONDS = -62135596800  # 0001-01-01T00:00:00Z, Go's zero time, in Unix seconds


def parse_rfc3339(text: str) -> Timestamp | None:
    """Go's ``time.Time`` JSON form (RFC 3339, fraction optional); None for Go's zero time, which
    the legacy replaces by now. Raises ValueError for anything else."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(f"parsing time {text!r} as RFC 3339")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = int((match.group(7) or "")[:9].ljust(9, "0"))
    offset = 0
    if not match.group(8):
        offset_hours, offset_minutes = int(match.group(10)), int(match.group(11))
        # Go's Parse takes up to 24:60, but an offset of a whole day or more then fails
        # Time.MarshalJSON, so the legacy's /usage answers 500 from then on: refused here.
        if offset_hours * 60 + offset_minutes >= 24 * 60 or offset_minutes > 60:
            raise ValueError(f"parsing time {text!r}: timezone offset out of range")
        offset = (1 if match.group(9) == "+" else -1) * (offset_hours * 3600 + offset_minutes * 60)
    try:
        wall = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise ValueError(f"parsing time {text!r}: out of range") from None
    seconds = int((wall - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) - offset
    if seconds == _GO_ZERO_SECONDS and fraction == 0:
        return None
    return Timestamp(seconds * _NS + fraction, offset)


@dataclass(frozen=True, slots=True)
class RequestDetail:
    timestamp: Timestamp
    source: str
    auth_index: str
    tokens: TokenStats
    failed: bool

    def as_json(self) -> dict[str, Any]:
        return {"timestamp": self.timestamp.rfc3339_nano(), "source": self.source, "auth_index": self.auth_index,
                "tokens": self.tokens.as_json(), "failed": self.failed}

    def dedup_key(self, api: str, model: str) -> tuple[Any, ...]:
        tokens = self.tokens.normalised()
        return (api, model, self.timestamp.rfc3339_nano(utc=True), self.source, self.auth_index, self.failed,
                tokens.input_tokens, tokens.output_tokens, tokens.reasoning_tokens, tokens.cached_tokens,
                tokens.total_tokens)


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One upstream call's outcome (``coreusage.Record``). ``api`` is the bucket: the client's
    key, or ``"<METHOD> <route>"`` when the gateway has no client keys."""

    api: str
    model: str
    detail: RequestDetail


@dataclass
class _ModelStats:
    total_requests: int = 0
    total_tokens: int = 0
    details: list[RequestDetail] = field(default_factory=list)


@dataclass
class _APIStats:
    total_requests: int = 0
    total_tokens: int = 0
    models: dict[str, _ModelStats] = field(default_factory=dict)


def _sorted(mapping: dict[str, Any]) -> dict[str, Any]:
    return {key: mapping[key] for key in sorted(mapping)}  # Go marshals map keys sorted


class RequestStatistics:
    """The aggregate. ``enabled`` is asked at each record (``usage-statistics-enabled``); merges
    from an import are taken whatever it says, as the legacy takes them."""

    def __init__(self, enabled: Callable[[], bool] = lambda: True) -> None:
        self.enabled = enabled
        self.total_requests = 0
        self.success_count = 0
        self.failure_count = 0
        self.total_tokens = 0
        self._apis: dict[str, _APIStats] = {}
        self._requests_by_day: dict[str, int] = {}
        self._requests_by_hour: dict[int, int] = {}
        self._tokens_by_day: dict[str, int] = {}
        self._tokens_by_hour: dict[int, int] = {}

    def record(self, record: UsageRecord) -> None:
        if not self.enabled():
            return
        detail = record.detail
        self._add(record.api, record.model or "unknown",
                  RequestDetail(detail.timestamp, detail.source, detail.auth_index, detail.tokens.normalised(),
                                detail.failed), imported=False)

    def _add(self, api: str, model: str, detail: RequestDetail, *, imported: bool) -> None:
        # Only an imported detail's negative total counts as 0 in the overall and per-day/hour
        # sums (recordImported, logger_plugin.go:357-360); a live record's is added as it came
        # (Record, :166,192,209-210). Per api and model both are added as they are.
        tokens = max(detail.tokens.total_tokens, 0) if imported else detail.tokens.total_tokens
        self.total_requests += 1
        if detail.failed:
            self.failure_count += 1
        else:
            self.success_count += 1
        self.total_tokens += tokens
        stats = self._apis.setdefault(api, _APIStats())
        stats.total_requests += 1
        stats.total_tokens += detail.tokens.total_tokens
        per_model = stats.models.setdefault(model, _ModelStats())
        per_model.total_requests += 1
        per_model.total_tokens += detail.tokens.total_tokens
        per_model.details.append(detail)
        day, hour = detail.timestamp.day(), detail.timestamp.hour()
        self._requests_by_day[day] = self._requests_by_day.get(day, 0) + 1
        self._requests_by_hour[hour] = self._requests_by_hour.get(hour, 0) + 1
        self._tokens_by_day[day] = self._tokens_by_day.get(day, 0) + tokens
        self._tokens_by_hour[hour] = self._tokens_by_hour.get(hour, 0) + tokens

    def snapshot(self) -> dict[str, Any]:
        """``StatisticsSnapshot`` as Go marshals it (struct fields in order, map keys sorted)."""
        apis = {
            name: {"total_requests": api.total_requests, "total_tokens": api.total_tokens,
                   "models": _sorted({model: {"total_requests": stats.total_requests,
                                              "total_tokens": stats.total_tokens,
                                              "details": [d.as_json() for d in stats.details]}
                                      for model, stats in api.models.items()})}
            for name, api in self._apis.items()
        }
        return {
            "total_requests": self.total_requests, "success_count": self.success_count,
            "failure_count": self.failure_count, "total_tokens": self.total_tokens,
            "apis": _sorted(apis),
            "requests_by_day": _sorted(self._requests_by_day),
            "requests_by_hour": _sorted({f"{h % 24:02d}": n for h, n in self._requests_by_hour.items()}),
            "tokens_by_day": _sorted(self._tokens_by_day),
            "tokens_by_hour": _sorted({f"{h % 24:02d}": n for h, n in self._tokens_by_hour.items()}),
        }

    def merge(self, apis: list[tuple[str, list[tuple[str, list[RequestDetail]]]]]) -> tuple[int, int]:
        """``MergeSnapshot`` over a decoded ``usage.apis``: names trimmed (an empty api skipped, an
        empty model ``unknown``), each api kept even when all its details are duplicates, and
        details that repeat what is held or an earlier one skipped. Returns (added, skipped)."""
        seen = {detail.dedup_key(api, model)
                for api, stats in self._apis.items()
                for model, per_model in stats.models.items()
                for detail in per_model.details}
        added = skipped = 0
        for raw_api, models in apis:
            api = go_trim(raw_api)
            if not api:
                continue
            self._apis.setdefault(api, _APIStats())
            for raw_model, details in models:
                model = go_trim(raw_model) or "unknown"
                for raw in details:
                    detail = RequestDetail(raw.timestamp, raw.source, raw.auth_index, raw.tokens.normalised(),
                                           raw.failed)
                    key = detail.dedup_key(api, model)
                    if key in seen:
                        skipped += 1
                        continue
                    seen.add(key)
                    self._add(api, model, detail, imported=True)
                    added += 1
        return added, skipped
