"""Mismatch and error samples in the gateway's SQLite state file, redacted and capped."""

from __future__ import annotations

import time
from typing import Any

import orjson

from ..state import StateDB
from .comparators import BodyTooLarge, decoded_body
from .redact import redact_body, redact_headers, redact_path, redact_text, truncate
from .types import Captured

# Enough to show the head of any body; stored text is cut to ``sample_bytes`` anyway.
_DECODE_LIMIT = 4 * 1024 * 1024


def _readable_body(captured: Captured) -> bytes:
    # The legacy tee holds wire bytes, possibly gzip; store what a person can read.
    try:
        return decoded_body(captured, _DECODE_LIMIT)
    except BodyTooLarge:
        return captured.body


def _leg_json(captured: Captured | None, limit: int) -> str:
    if captured is None:
        return "null"
    return orjson.dumps({
        "status": captured.status,
        "headers": [list(pair) for pair in redact_headers(captured.headers)],
        "body": redact_body(_readable_body(captured), limit),
        "truncated": captured.truncated,
        "error": captured.error,
        "elapsed": round(captured.elapsed, 6),
    }).decode()


class SampleStore:
    def __init__(self, db: StateDB, max_samples: int, sample_bytes: int) -> None:
        self.db = db
        self.max_samples = max_samples
        self.sample_bytes = sample_bytes

    async def add(self, *, route: str, request_id: str, method: str, path: str, outcome: str,
                  comparator: str, diff: str, legacy: Captured | None, native: Captured | None,
                  ts: float | None = None) -> int:
        """Store one sample (everything redacted first) and prune to ``max_samples``; returns its id."""
        row_id = await self.db.execute(
            "INSERT INTO shadow_samples (ts, route, request_id, method, path, outcome, comparator, diff,"
            " legacy, native) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (time.time() if ts is None else ts, route, redact_text(request_id)[:200], method,
             redact_path(path), outcome, comparator, truncate(redact_text(diff), self.sample_bytes),
             _leg_json(legacy, self.sample_bytes), _leg_json(native, self.sample_bytes)))
        await self.prune()
        return row_id

    async def prune(self) -> None:
        # Ids only grow, so "everything at or below the (max+1)-th newest id" is the overflow.
        await self.db.execute(
            "DELETE FROM shadow_samples WHERE id <= "
            "(SELECT id FROM shadow_samples ORDER BY id DESC LIMIT 1 OFFSET ?)",
            (self.max_samples,))

    async def list(self, route: str | None = None, limit: int = 50,
                   outcome: str | None = None) -> list[dict[str, Any]]:
        """Newest first."""
        clauses: list[str] = []
        params: list[Any] = []
        if route is not None:
            clauses.append("route = ?")
            params.append(route)
        if outcome is not None:
            clauses.append("outcome = ?")
            params.append(outcome)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = await self.db.fetchall(
            "SELECT id, ts, route, request_id, method, path, outcome, comparator, diff, legacy, native"
            f" FROM shadow_samples{where} ORDER BY id DESC LIMIT ?", (*params, limit))
        for row in rows:
            row["legacy"] = orjson.loads(row["legacy"])
            row["native"] = orjson.loads(row["native"])
        return rows

    async def summary(self) -> list[dict[str, Any]]:
        """Per route, how many stored samples there are of each outcome."""
        rows = await self.db.fetchall(
            "SELECT route, outcome, COUNT(*) AS n FROM shadow_samples GROUP BY route, outcome"
            " ORDER BY route, outcome")
        by_route: dict[str, dict[str, int]] = {}
        for row in rows:
            by_route.setdefault(row["route"], {})[row["outcome"]] = row["n"]
        return [{"route": route, "counts": counts} for route, counts in by_route.items()]
