"""SSE streams through a target: time to first byte, RSS per open stream, idle streams held.

The client is an in-process aiohttp session (one connection per stream, no pool limit), the
same for every target. The mock upstream shapes each stream: `n` chunks with `delay_ms` after
each. With n=1 and a long delay a stream sends its first chunk and then sits idle, which is how
1,000 and 10,000 open streams are held; the client ends them once the measurement is taken, so
no case waits for the full delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import aiohttp

from benchmarks.harness import STREAM_NOFILE, median, percentile, raise_nofile, rss_kb
from benchmarks.targets import Target

BODY = json.dumps(
    {"model": "bench-model", "messages": [{"role": "user", "content": "hi"}], "stream": True}
).encode()
HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer sk-bench"}


@dataclass
class Tracker:
    """What a batch of streams did: first-byte times, how many are open now, errors."""

    count: int
    ttfb: list[float] = field(default_factory=list)
    # When each first byte arrived, in seconds from the first connect: a proxy that keeps up with
    # the client lets them arrive together, one that is the bottleneck spreads them out.
    first_at: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    chunks: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    open_now: int = 0
    max_open: int = 0
    closed_early: int = 0
    all_open: asyncio.Event = field(default_factory=asyncio.Event)
    holding: bool = False
    started: float = field(default_factory=time.monotonic)
    # Seconds from the first connect until every stream had its first byte.
    all_open_after: float | None = None

    def opened(self, ttfb: float) -> None:
        self.ttfb.append(ttfb)
        self.first_at.append(time.monotonic() - self.started)
        self.open_now += 1
        self.max_open = max(self.max_open, self.open_now)
        if len(self.ttfb) == self.count:
            self.all_open_after = time.monotonic() - self.started
            self.all_open.set()

    def closed(self) -> None:
        self.open_now -= 1
        if self.holding:
            self.closed_early += 1


def first_byte_spread(first_at: Sequence[float]) -> float | None:
    """Seconds between the 10th and the 90th percentile of the first bytes' arrival times."""
    if len(first_at) < 2:
        return None
    return percentile(first_at, 90) - percentile(first_at, 10)


async def _one(
    session: aiohttp.ClientSession, url: str, tracker: Tracker, gate: asyncio.Semaphore | None
) -> None:
    released = gate is None
    if gate is not None:
        await gate.acquire()
    t0 = time.perf_counter()
    seen_first = False
    chunks = 0
    try:
        async with session.post(url, data=BODY, headers=HEADERS) as resp:
            if resp.status != 200:
                tracker.errors.append(f"HTTP {resp.status}")
                return
            async for line in resp.content:
                if not seen_first:
                    seen_first = True
                    tracker.opened(time.perf_counter() - t0)
                    if gate is not None:
                        gate.release()
                        released = True
                if line.startswith(b"data: "):
                    chunks += 1
            tracker.total.append(time.perf_counter() - t0)
            tracker.chunks.append(chunks)
    except asyncio.CancelledError:
        raise
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        tracker.errors.append(type(exc).__name__ + (f": {exc}" if str(exc) else ""))
    finally:
        if seen_first:
            tracker.closed()
        if not released and gate is not None:
            gate.release()


Hold = Callable[[Tracker], Awaitable[None]]


async def run_streams(
    base: str,
    count: int,
    *,
    chunks: int,
    delay_ms: float,
    deadline: float,
    ramp: int | None = None,
    hold: Hold | None = None,
) -> Tracker:
    """Open `count` streams to base/v1/chat/completions.

    Without `hold`, every stream runs to its end (bounded by `deadline` seconds). With `hold`,
    once all streams have their first byte (or the deadline passes) `hold` runs while they stay
    open, then the client closes them. `ramp` bounds how many streams may be waiting for their
    first byte at once, so thousands of connects do not overflow a listen backlog.
    """
    tracker = Tracker(count)
    tracker.started = time.monotonic()
    gate = asyncio.Semaphore(ramp) if ramp else None
    url = f"{base}/v1/chat/completions?n={chunks}&delay_ms={delay_ms:g}"
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=deadline)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks = [asyncio.create_task(_one(session, url, tracker, gate)) for _ in range(count)]
        everything = asyncio.gather(*tasks, return_exceptions=True)
        try:
            if hold is None:
                await asyncio.wait_for(asyncio.shield(everything), deadline)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(tracker.all_open.wait(), deadline)
                tracker.holding = True
                await hold(tracker)
                tracker.holding = False
        except TimeoutError:
            tracker.errors.append(f"deadline of {deadline:.0f}s passed")
        finally:
            for task in tasks:
                task.cancel()
            await everything
    return tracker


# ---- the three cases --------------------------------------------------------------------------


@dataclass
class StreamPlan:
    ttfb_rounds: int
    rss_streams: int
    idle_streams: int
    idle_hold_seconds: float


FULL = StreamPlan(ttfb_rounds=9, rss_streams=1000, idle_streams=10000, idle_hold_seconds=5)
QUICK = StreamPlan(ttfb_rounds=2, rss_streams=1000, idle_streams=10000, idle_hold_seconds=2)


def ttfb_case(targets: Sequence[Target], plan: StreamPlan) -> dict[str, dict[str, object]]:
    """100 concurrent streams of 20 chunks x 50 ms, rounds interleaved; median of round p50s."""
    p50s: dict[str, list[float]] = {t.name: [] for t in targets}
    p99s: dict[str, list[float]] = {t.name: [] for t in targets}
    problems: dict[str, list[str]] = {t.name: [] for t in targets}
    for target in targets:  # warm-up: pools, lazy imports
        asyncio.run(run_streams(target.base, 10, chunks=2, delay_ms=0, deadline=30))
    for _ in range(plan.ttfb_rounds):
        for target in targets:
            tr = asyncio.run(run_streams(target.base, 100, chunks=20, delay_ms=50, deadline=60))
            problems[target.name] += tr.errors
            if any(n != 21 for n in tr.chunks) or len(tr.chunks) != 100:
                problems[target.name].append("stream(s) without all 20 chunks + [DONE]")
            if tr.ttfb:
                p50s[target.name].append(percentile(tr.ttfb, 50))
                p99s[target.name].append(percentile(tr.ttfb, 99))
    return {
        name: {
            "ttfb_p50_ms": round(median(p50s[name]) * 1000, 2) if p50s[name] else None,
            "ttfb_p99_ms": round(median(p99s[name]) * 1000, 2) if p99s[name] else None,
            "p50_rounds_ms": [round(v * 1000, 2) for v in p50s[name]],
            "errors": len(problems[name]),
            "first_error": problems[name][0] if problems[name] else None,
        }
        for name in p50s
    }


async def _held_rss(target: Target, count: int, hold_seconds: float, deadline: float) -> dict[str, object]:
    pids = target.pids()
    # Warm the target first so its base RSS already holds pools and lazily built objects.
    await run_streams(target.base, 20, chunks=2, delay_ms=0, deadline=30)
    await asyncio.sleep(0.3)
    base = rss_kb(pids)
    peak = 0
    open_at_peak = 0
    held_to_end = 0

    async def hold(tr: Tracker) -> None:
        nonlocal peak, open_at_peak, held_to_end
        end = time.monotonic() + hold_seconds
        while time.monotonic() < end:
            now = rss_kb(target.pids())
            if now > peak:
                peak, open_at_peak = now, tr.open_now
            await asyncio.sleep(0.1)
        held_to_end = tr.open_now

    tr = await run_streams(
        target.base, count, chunks=1, delay_ms=600_000, deadline=deadline, ramp=256, hold=hold
    )
    return {
        "streams": count,
        "held": held_to_end,
        "max_open": tr.max_open,
        "all_open": tr.all_open.is_set(),
        "closed_early": tr.closed_early,
        "errors": len(tr.errors),
        "first_error": tr.errors[0] if tr.errors else None,
        "rss_base_kb": base,
        "rss_peak_kb": peak,
        "kb_per_stream": round((peak - base) / open_at_peak, 1) if open_at_peak else None,
        "ttfb_p50_ms": round(percentile(tr.ttfb, 50) * 1000, 2) if tr.ttfb else None,
        "all_open_after_s": round(tr.all_open_after, 2) if tr.all_open_after is not None else None,
    }


def rss_case(targets: Sequence[Target], plan: StreamPlan) -> dict[str, dict[str, object]]:
    """RSS growth per open stream with plan.rss_streams streams open at once."""
    raise_nofile(STREAM_NOFILE)
    return {t.name: asyncio.run(_held_rss(t, plan.rss_streams, 1.5, deadline=60)) for t in targets}


def idle_stream_budget(asked: int, hard_limit: int, headroom: int = 200) -> int:
    """How many streams a one-process proxy can hold under an open-file hard limit.

    A proxied stream costs the proxy two descriptors (client side and upstream side); the
    headroom covers listeners, logs, the state database and the event loop's own.
    """
    return max(0, min(asked, (hard_limit - headroom) // 2))


def idle_case(targets: Sequence[Target], plan: StreamPlan) -> dict[str, dict[str, object]]:
    """Idle streams opened and held; ok when all open, none closed early, no errors, still serving."""
    raise_nofile(STREAM_NOFILE)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    count = idle_stream_budget(plan.idle_streams, hard)
    capped = (
        f"{count:,} of {plan.idle_streams:,} asked: open-file hard limit {hard:,}, "
        "2 descriptors per proxied stream"
        if count < plan.idle_streams
        else None
    )
    out: dict[str, dict[str, object]] = {}
    for target in targets:
        row = asyncio.run(_held_rss(target, count, plan.idle_hold_seconds, deadline=120))
        row["asked"] = plan.idle_streams
        row["capped"] = capped
        row["after_ok"] = asyncio.run(_still_serving(target))
        row["ok"] = (
            bool(row["all_open"]) and row["closed_early"] == 0 and row["errors"] == 0 and row["after_ok"]
        )
        out[target.name] = row
    return out


async def _still_serving(target: Target) -> bool:
    """After the streams are dropped the target must still answer a fresh stream in full."""
    await asyncio.sleep(0.5)
    tr = await run_streams(target.base, 1, chunks=3, delay_ms=0, deadline=30)
    return not tr.errors and tr.chunks == [4]
