"""``GET /v0/gateway/shadow``: shadow counters since start plus the newest stored samples."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web

from ..appkeys import SHADOW
from .types import Outcome

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_OUTCOMES = frozenset(str(o) for o in Outcome)
T = TypeVar("T")


def _bad_request(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


def _only(route: str, tally: dict[str, T]) -> dict[str, T]:
    """One route's entry of a per-route tally (empty when it has none)."""
    return {route: tally[route]} if route in tally else {}


async def shadow_handler(request: web.Request) -> web.Response:
    runner = request.app[SHADOW]
    query = request.query
    route = query.get("route") or None
    outcome = query.get("outcome") or None
    if outcome is not None and outcome not in _OUTCOMES:
        return _bad_request(f"invalid outcome {outcome!r}; use one of {', '.join(o.value for o in Outcome)}")
    raw_limit = query.get("limit")
    limit = DEFAULT_LIMIT
    if raw_limit:
        try:
            limit = int(raw_limit)
        except ValueError:
            return _bad_request("limit must be an integer")
        if not 1 <= limit <= MAX_LIMIT:
            return _bad_request(f"limit must be between 1 and {MAX_LIMIT}")
    counters = runner.counters()
    reasons = runner.skip_reasons()
    expected = runner.expected_differences()
    not_sampled = runner.not_sampled_counts()
    if route is not None:
        counters, reasons = _only(route, counters), _only(route, reasons)
        expected, not_sampled = _only(route, expected), _only(route, not_sampled)
    samples = await runner.store.list(route=route, limit=limit, outcome=outcome)
    return web.json_response({"counters": counters, "skip_reasons": reasons, "expected_differences": expected,
                              "not_sampled": not_sampled, "samples": samples})
