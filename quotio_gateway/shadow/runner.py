"""Runs shadow comparisons off the response path: bounded, timed out, and unable to hurt the client.

The dispatcher answers the client from the legacy leg and hands both legs to ``submit`` as
awaitables. Everything after that happens in a background task that holds one of
``max_concurrency`` slots, gives both legs ``timeout_seconds`` to finish, compares, and records
counters, Prometheus metrics and (for mismatches and errors) a redacted sample. Any failure in
this machinery is counted as an ``error`` outcome (Scientist's ``raised`` callback) and never
reaches the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import structlog

from ..flags.schema import ShadowSettings
from ..legacy.peer_guard import is_amp_control_route
from ..metrics import Metrics
from .comparators import DEFAULT_IGNORE_PATHS, choose_comparator, compare
from .store import SampleStore
from .types import Captured, Comparison, Outcome

log = structlog.get_logger("quotio_gateway.shadow")

# Comparisons over this many body bytes run in a worker thread so the event loop keeps serving.
THREAD_COMPARE_BYTES = 256 * 1024
_STORED_OUTCOMES = frozenset({Outcome.MISMATCH, Outcome.ERROR})

Comparator = Callable[..., Comparison]


def plan_shadow(method: str, path: str, *, shadow_llm: bool, sample: float,
                draw: float) -> tuple[str | None, str | None]:
    """Whether one request may be shadowed: ``(comparator, None)`` to run it, ``(None, reason)`` to
    skip and count it, ``(None, None)`` when it merely fell outside the sample.

    Writes never run twice; inference POSTs are reads in effect but spend quota on both legs, so
    they run only where the route opted in.
    """
    kind = choose_comparator(method, path)
    if _starts_or_ends_a_login(method, path):
        return None, "write"
    if is_amp_control_route(method.upper(), path):
        # Both legs would call the Amp control plane (logins, threads, telemetry), GETs included.
        return None, "amp_upstream"
    if method.upper() not in ("GET", "HEAD"):
        if kind != "llm":
            return None, "write"
        if not shadow_llm:
            return None, "llm_not_opted_in"
    if draw >= sample:
        return None, None
    return kind, None


_LOGIN_CALLBACKS = frozenset({"/anthropic/callback", "/codex/callback", "/google/callback", "/iflow/callback",
                              "/antigravity/callback"})


def _starts_or_ends_a_login(method: str, path: str) -> bool:
    """GETs that are not reads: ``*-auth-url`` starts a login (a callback server, a pending
    session) and the providers' callback routes finish one. Run twice they would log in twice."""
    if method.upper() != "GET":
        return False
    bare = path.split("?", 1)[0].rstrip("/")
    return (bare.startswith("/v0/management/") and bare.endswith("-auth-url")) or bare in _LOGIN_CALLBACKS


class ShadowRunner:
    def __init__(self, settings: ShadowSettings, store: SampleStore, metrics: Metrics, *,
                 comparator: Comparator = compare) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self._compare = comparator
        self._last_stored: dict[str, float] = {}
        self._inflight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._counts: dict[str, dict[str, int]] = {}
        self._skip_reasons: dict[str, dict[str, int]] = {}
        # Per route, how often each documented deviation (docs/compatibility.md shadow rules)
        # explained an answer that differed: the "ignored" outcomes with an ``expected:`` reason.
        self._expected: dict[str, dict[str, int]] = {}
        # Requests a route's `sample` left out: not outcomes (nothing was tried), but an operator
        # reading the counters needs them to know what share the comparisons stand for.
        self._not_sampled: dict[str, int] = {}
        self._leg_children: dict[str, tuple[Any, Any]] = {}
        self._outcome_children: dict[tuple[str, str], Any] = {}

    @property
    def inflight(self) -> int:
        return self._inflight

    def update_settings(self, settings: ShadowSettings) -> None:
        """Hot reload: new limits apply to the next acquire; running comparisons keep theirs."""
        self.settings = settings
        self.store.max_samples = settings.max_samples
        self.store.sample_bytes = settings.sample_bytes

    def try_acquire(self) -> bool:
        if self._inflight >= self.settings.max_concurrency:
            return False
        self._inflight += 1
        return True

    def release(self) -> None:
        """Give back a slot ``try_acquire`` took for a comparison that will not be submitted."""
        self._inflight -= 1

    def skip(self, route: str, reason: str) -> None:
        reasons = self._skip_reasons.setdefault(route, {})
        reasons[reason] = reasons.get(reason, 0) + 1
        self._record(route, Outcome.SKIPPED)

    def not_sampled(self, route: str) -> None:
        self._not_sampled[route] = self._not_sampled.get(route, 0) + 1

    def not_sampled_counts(self) -> dict[str, int]:
        return dict(sorted(self._not_sampled.items()))

    def counters(self) -> dict[str, dict[str, int]]:
        return {route: dict(counts) for route, counts in sorted(self._counts.items())}

    def skip_reasons(self) -> dict[str, dict[str, int]]:
        return {route: dict(reasons) for route, reasons in sorted(self._skip_reasons.items())}

    def expected_differences(self) -> dict[str, dict[str, int]]:
        return {route: dict(rules) for route, rules in sorted(self._expected.items())}

    def _note_expected(self, route: str, reason: str | None, n: int) -> None:
        if not reason or not reason.startswith("expected:"):
            return
        rules = self._expected.setdefault(route, {})
        # One answer may show several deviations at once ("a+b"): each is counted.
        for rule in reason.removeprefix("expected:").split("+"):
            rules[rule] = rules.get(rule, 0) + n

    def submit(self, *, route: str, request_id: str, method: str, path: str,
               legacy: Awaitable[Captured], native: Awaitable[Captured], comparator: str | None = None,
               ignore_paths: Iterable[str] = DEFAULT_IGNORE_PATHS) -> None:
        """Start one comparison in the background; call only after ``try_acquire`` returned True."""
        try:
            kind = comparator or choose_comparator(method, path)
            task = asyncio.get_running_loop().create_task(
                self._run(route, request_id, method, path, kind, tuple(ignore_paths), legacy, native))
        except Exception as exc:
            for leg in (legacy, native):
                if asyncio.iscoroutine(leg):
                    leg.close()
            self._inflight -= 1
            self._raised(route, "submit", exc)
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float) -> None:  # noqa: ASYNC109 - the app calls drain(seconds)
        """Shutdown: let running comparisons finish for up to ``timeout`` seconds, cancel the rest."""
        tasks = set(self._tasks)
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    # --- internals ---------------------------------------------------------------------------

    async def _run(self, route: str, request_id: str, method: str, path: str, kind: str,
                   ignore_paths: tuple[str, ...], legacy: Awaitable[Captured],
                   native: Awaitable[Captured]) -> None:
        legacy_task: asyncio.Future[Captured] | None = None
        native_task: asyncio.Future[Captured] | None = None
        owns_legacy = False
        legacy_cap: Captured | None = None
        native_cap: Captured | None = None
        try:
            native_task = asyncio.ensure_future(native)
            legacy_task = asyncio.ensure_future(legacy)
            # A future the dispatcher resolves itself must never be cancelled from here.
            owns_legacy = legacy_task is not legacy
            timeout = self.settings.timeout_seconds
            await asyncio.wait({legacy_task, native_task}, timeout=timeout)
            legacy_cap = _leg_result(legacy_task)
            native_cap = _leg_result(native_task)
            if legacy_cap is not None and legacy_cap.error is None:
                self.metrics.shadow_leg_duration.labels(route=route, side="legacy").observe(legacy_cap.elapsed)
            if native_cap is not None and native_cap.error is None:
                self.metrics.shadow_leg_duration.labels(route=route, side="native").observe(native_cap.elapsed)
            if not native_task.done():
                native_cap = Captured(status=0, headers=[], body=b"", error="TimeoutError", elapsed=timeout)
                self.metrics.shadow_leg_duration.labels(route=route, side="native").observe(timeout)
                comparison = Comparison(Outcome.ERROR, f"native leg did not finish within {timeout:g}s",
                                        reason="native_timeout")
            elif not legacy_task.done():
                comparison = Comparison(Outcome.SKIPPED, f"legacy leg did not finish within {timeout:g}s",
                                        reason="legacy_timeout")
            elif legacy_cap is None:
                comparison = Comparison(Outcome.SKIPPED, "legacy leg raised", reason="legacy_failed")
            else:
                if native_cap is None:
                    failure = "CancelledError" if native_task.cancelled() else type(native_task.exception()).__name__
                    native_cap = Captured(status=500, headers=[], body=b"", error=failure)
                comparison = await self._compare_legs(kind, legacy_cap, native_cap, ignore_paths)
            await self._finish(route, request_id, method, path, kind, comparison, legacy_cap, native_cap)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._raised(route, "run", exc)
        finally:
            if native_task is not None and not native_task.done():
                native_task.cancel()
            if owns_legacy and legacy_task is not None and not legacy_task.done():
                legacy_task.cancel()
            # A leg that never became a task is a coroutine nobody will await; close it quietly.
            for leg, task in ((native, native_task), (legacy, legacy_task)):
                if task is None and asyncio.iscoroutine(leg):
                    leg.close()
            self._inflight -= 1

    async def _compare_legs(self, kind: str, legacy: Captured, native: Captured,
                            ignore_paths: tuple[str, ...]) -> Comparison:
        try:
            if len(legacy.body) + len(native.body) > THREAD_COMPARE_BYTES:
                return await asyncio.to_thread(self._compare, kind, legacy, native, ignore_paths=ignore_paths)
            return self._compare(kind, legacy, native, ignore_paths=ignore_paths)
        except Exception as exc:
            log.warning("shadow comparator raised", comparator=kind, error=type(exc).__name__)
            return Comparison(Outcome.ERROR, f"comparator {kind!r} raised {type(exc).__name__}",
                              reason="comparator_raised")

    def record_result(self, *, route: str, request_id: str, method: str, path: str, comparator: str,
                      comparison: Comparison, legacy: Captured, native: Captured | None,
                      native_elapsed: float | None) -> None:
        """A comparison made elsewhere (the shadow worker): count it, and store a sample when due.

        ``native`` is None when the native answer was not sent along; the sample then records the
        legacy side and the diff only.
        """
        self.observe_legs(route, legacy, native_elapsed, comparison.reason)
        if not self._count(route, request_id, comparison):
            return
        task = asyncio.get_running_loop().create_task(
            self._store(route, request_id, method, path, comparator, comparison, legacy, native))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def observe_legs(self, route: str, legacy: Captured, native_elapsed: float | None, reason: str | None) -> None:
        """The per-leg duration histograms for one comparison made elsewhere."""
        legs = self._leg_children.get(route)
        if legs is None:
            # Looked up once per route: this runs on the gateway's loop for every shadowed request.
            histogram = self.metrics.shadow_leg_duration
            legs = self._leg_children[route] = (histogram.labels(route=route, side="legacy"),
                                                histogram.labels(route=route, side="native"))
        if legacy.error is None:
            legs[0].observe(legacy.elapsed)
        if native_elapsed is not None:
            legs[1].observe(native_elapsed)
        elif reason == "native_timeout":
            legs[1].observe(self.settings.timeout_seconds)

    def count(self, route: str, outcome: Outcome, reason: str | None, n: int) -> None:
        """``n`` outcomes of one kind at once (no sample stored for them)."""
        if outcome is Outcome.SKIPPED:
            reasons = self._skip_reasons.setdefault(route, {})
            key = reason or "skipped"
            reasons[key] = reasons.get(key, 0) + n
        elif outcome is Outcome.IGNORED:
            self._note_expected(route, reason, n)
        self._bump(route, outcome.value, n)

    async def _finish(self, route: str, request_id: str, method: str, path: str, kind: str,
                      comparison: Comparison, legacy: Captured | None, native: Captured | None) -> None:
        if self._count(route, request_id, comparison):
            await self._store(route, request_id, method, path, kind, comparison, legacy, native)

    def _count(self, route: str, request_id: str, comparison: Comparison) -> bool:
        """Count one outcome; True when a sample of it should be stored now."""
        outcome = comparison.outcome
        if outcome is Outcome.SKIPPED:
            self.skip(route, comparison.reason or "skipped")
        else:
            if outcome is Outcome.IGNORED:
                self._note_expected(route, comparison.reason, 1)
            self._record(route, outcome)
        if outcome not in _STORED_OUTCOMES:
            return False
        now = time.monotonic()
        last = self._last_stored.get(route)
        if last is not None and now - last < self.settings.sample_interval_seconds:
            return False
        self._last_stored[route] = now
        log.info("shadow difference", route=route, request_id=request_id, outcome=str(outcome),
                 reason=comparison.reason)
        return True

    async def _store(self, route: str, request_id: str, method: str, path: str, kind: str,
                     comparison: Comparison, legacy: Captured | None, native: Captured | None) -> None:
        outcome = comparison.outcome
        try:
            await self.store.add(route=route, request_id=request_id, method=method, path=path,
                                 outcome=str(outcome), comparator=kind, diff=comparison.diff, legacy=legacy,
                                 native=native)
        except Exception as exc:
            # Losing a sample is acceptable; the counters above already have the result.
            log.warning("shadow sample not stored", route=route, error=type(exc).__name__)

    def _record(self, route: str, outcome: Outcome) -> None:
        self._bump(route, outcome.value, 1)

    def _bump(self, route: str, name: str, n: int) -> None:
        # Runs for every shadowed request on the gateway's loop: no per-call dict building, and
        # the Prometheus child is looked up once per (route, outcome).
        counts = self._counts.get(route)
        if counts is None:
            counts = self._counts[route] = {o.value: 0 for o in Outcome}
        counts[name] += n
        key = (route, name)
        child = self._outcome_children.get(key)
        if child is None:
            child = self._outcome_children[key] = self.metrics.shadow_results.labels(route=route, outcome=name)
        child.inc(n)

    def _raised(self, route: str, operation: str, exc: BaseException) -> None:
        log.warning("shadow machinery failed", route=route, operation=operation, error=type(exc).__name__)
        with contextlib.suppress(Exception):
            self._record(route, Outcome.ERROR)


def _leg_result(task: asyncio.Future[Captured]) -> Captured | None:
    """The leg's value, or None when it is still running or raised (the exception is consumed)."""
    if not task.done() or task.cancelled():
        return None
    if task.exception() is not None:
        return None
    result: Any = task.result()
    return result if isinstance(result, Captured) else None
