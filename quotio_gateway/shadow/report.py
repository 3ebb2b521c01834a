"""``quotio-gateway shadow report``: a terminal view of shadow results.

The data comes either from a running gateway (``fetch_report``, the JSON of
``GET /v0/gateway/shadow``) or straight from the SQLite state file (``report_from_db``) when the
gateway is down; offline counts only cover the stored samples, i.e. mismatches and errors.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import aiohttp

from ..state import StateDB
from .store import SampleStore
from .types import Outcome

_OUTCOMES = [str(o) for o in Outcome]
_DIFF_LINES = 20


async def fetch_report(base_url: str, management_key: str | None, *, route: str | None = None,
                       outcome: str | None = None, limit: int = 20,
                       request_timeout: float = 10.0) -> dict[str, Any]:
    """JSON of a running gateway's shadow endpoint; raises ``aiohttp.ClientError`` on failure."""
    params = {"limit": str(limit)}
    if route:
        params["route"] = route
    if outcome:
        params["outcome"] = outcome
    headers = {"Authorization": f"Bearer {management_key}"} if management_key else {}
    client_timeout = aiohttp.ClientTimeout(total=request_timeout)
    async with aiohttp.ClientSession(timeout=client_timeout) as session, session.get(
            base_url.rstrip("/") + "/v0/gateway/shadow", params=params, headers=headers) as response:
        if response.status != 200:
            text = (await response.text())[:300]
            raise aiohttp.ClientResponseError(response.request_info, (), status=response.status,
                                              message=text)
        data: dict[str, Any] = await response.json()
        return data


async def report_from_db(path: Path | str, *, route: str | None = None, outcome: str | None = None,
                         limit: int = 20) -> dict[str, Any]:
    """The same shape as the API answer, built from the state file of a stopped gateway."""
    db_path = Path(path)
    if not await asyncio.to_thread(db_path.exists):
        raise FileNotFoundError(f"no state database at {db_path}")
    db = StateDB(db_path)
    await db.open()
    try:
        store = SampleStore(db, max_samples=1 << 62, sample_bytes=1 << 20)
        counters = {row["route"]: {o: row["counts"].get(o, 0) for o in _OUTCOMES}
                    for row in await store.summary()}
        if route is not None:
            counters = {route: counters[route]} if route in counters else {}
        samples = await store.list(route=route, limit=limit, outcome=outcome)
    finally:
        await db.close()
    return {"counters": counters, "samples": samples, "source": "database"}


def _rate(counts: dict[str, int]) -> str:
    compared = sum(counts.get(o, 0) for o in ("match", "mismatch", "ignored"))
    if not compared:
        return "n/a"
    return f"{100.0 * counts.get('mismatch', 0) / compared:.1f}%"


def _leg(leg: dict[str, Any] | None) -> str:
    if not leg:
        return "(not captured)"
    text = str(leg.get("status"))
    if leg.get("error"):
        text += f" {leg['error']}"
    if leg.get("truncated"):
        text += " (truncated)"
    return text


def _per_route(title: str, tallies: dict[str, dict[str, int]]) -> list[str]:
    """A titled block of ``route: name n, …`` lines (nothing when there are no tallies)."""
    if not tallies:
        return []
    lines = ["", title]
    for route, counts in sorted(tallies.items()):
        lines.append(f"  {route}: " + ", ".join(f"{name} {n}" for name, n in sorted(counts.items())))
    return lines


def render_report(data: dict[str, Any]) -> str:
    counters: dict[str, dict[str, int]] = data.get("counters") or {}
    lines: list[str] = []
    if data.get("source") == "database":
        lines.append("(offline: counts are stored samples only; matches are never stored)")
    header = ["route", *_OUTCOMES, "mismatch rate"]
    rows = [[route, *(str(counts.get(o, 0)) for o in _OUTCOMES), _rate(counts)]
            for route, counts in sorted(counters.items())]
    if rows:
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        for index, row in enumerate([header, *rows]):
            cells = [row[0].ljust(widths[0])] + [cell.rjust(widths[i]) for i, cell in enumerate(row) if i]
            lines.append("  ".join(cells).rstrip())
            if index == 0:
                lines.append("  ".join("-" * w for w in widths))
    else:
        lines.append("no shadow results yet")
    lines += _per_route("skipped because:", data.get("skip_reasons") or {})
    lines += _per_route("ignored as documented differences (docs/compatibility.md):",
                        data.get("expected_differences") or {})
    not_sampled: dict[str, int] = data.get("not_sampled") or {}
    if not_sampled:
        lines += ["", "left out by the route's sample (not compared, not counted above):"]
        lines += [f"  {route}: {n}" for route, n in sorted(not_sampled.items())]
    samples: list[dict[str, Any]] = data.get("samples") or []
    lines += ["", f"latest samples ({len(samples)}):" if samples else "no stored samples"]
    for sample in samples:
        when = dt.datetime.fromtimestamp(float(sample.get("ts", 0)), dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        lines.append("")
        lines.append(f"#{sample.get('id')} {when} {sample.get('outcome')} [{sample.get('comparator')}] "
                     f"{sample.get('route')}  {sample.get('method')} {sample.get('path')}  "
                     f"request {sample.get('request_id')}")
        lines.append(f"  legacy {_leg(sample.get('legacy'))} | native {_leg(sample.get('native'))}")
        diff_lines = str(sample.get("diff") or "").splitlines()
        lines += [f"    {line}" for line in diff_lines[:_DIFF_LINES]]
        if len(diff_lines) > _DIFF_LINES:
            lines.append(f"    … {len(diff_lines) - _DIFF_LINES} more lines")
    return "\n".join(lines) + "\n"
