"""Non-stream pass-through: p50 latency at one connection and CPU per request.

Why wrk rather than a Python client: at one connection the numbers being compared are a few
hundred microseconds, and a Python client spends about as long in its own event loop and HTTP
parser as the proxies do. That client time is added to every target alike, which pulls all
ratios towards 1 and hides exactly the difference the targets are about. wrk (C, one thread,
keep-alive, the anchors' own post.lua body) costs a few microseconds per request, so p50 is
dominated by the target. The same tool measured the anchor figures in ../shared/bench.

The machine is shared and noisy, so targets are measured in interleaved rounds (every target
once per round) and each figure is the median over rounds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.harness import WrkResult, cpu_seconds, median, run_wrk
from benchmarks.targets import Target


@dataclass
class Plan:
    rounds: int
    seconds: float
    warmup_seconds: float = 1.0
    cpu_connections: int = 8


FULL = Plan(rounds=5, seconds=5)
QUICK = Plan(rounds=1, seconds=2)


@dataclass
class Figures:
    """Per target: list of per-round values (seconds for latency, µs for CPU)."""

    p50: dict[str, list[float]] = field(default_factory=dict)
    p99: dict[str, list[float]] = field(default_factory=dict)
    cpu_us: dict[str, list[float]] = field(default_factory=dict)
    rps: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, dict[str, float | int]]:
        out: dict[str, dict[str, float | int]] = {}
        for name in dict.fromkeys([*self.p50, *self.cpu_us]):
            row: dict[str, float | int] = {"errors": self.errors.get(name, 0)}
            if self.p50.get(name):
                row["p50_ms"] = round(median(self.p50[name]) * 1000, 4)
                row["p99_ms"] = round(median(self.p99[name]) * 1000, 4)
                row["p50_rounds_ms"] = [round(v * 1000, 4) for v in self.p50[name]]
            if self.cpu_us.get(name):
                row["cpu_us_per_req"] = round(median(self.cpu_us[name]), 1)
                row["rps_c8"] = round(median(self.rps[name]), 0)
                row["cpu_rounds_us"] = [round(v, 1) for v in self.cpu_us[name]]
            out[name] = row
        return out


def _count_errors(figures: Figures, name: str, result: WrkResult) -> None:
    figures.errors[name] = figures.errors.get(name, 0) + result.non_2xx + result.socket_errors


def measure_latency(
    targets: Sequence[Target],
    plan: Plan,
    *,
    path: str = "/v1/chat/completions",
    script: Path | None = None,
    headers: Sequence[str] = (),
    figures: Figures | None = None,
) -> Figures:
    """p50/p99 at one connection for each target, rounds interleaved."""
    figures = figures or Figures()
    lua = script
    for target in targets:
        run_wrk(target.base + path, connections=1, seconds=plan.warmup_seconds, script=lua, headers=headers)
    for _ in range(plan.rounds):
        for target in targets:
            result = run_wrk(
                target.base + path,
                connections=1,
                seconds=plan.seconds,
                script=lua,
                headers=headers,
                latency=True,
            )
            _count_errors(figures, target.name, result)
            figures.p50.setdefault(target.name, []).append(result.percentiles[50])
            figures.p99.setdefault(target.name, []).append(result.percentiles[99])
    return figures


def measure_cpu(targets: Sequence[Target], plan: Plan, script: Path, figures: Figures | None = None) -> Figures:
    """CPU microseconds per request of each target's process tree under wrk at c=8."""
    figures = figures or Figures()
    for target in targets:
        run_wrk(
            target.base + "/v1/chat/completions",
            connections=plan.cpu_connections,
            seconds=plan.warmup_seconds,
            script=script,
        )
    for _ in range(plan.rounds):
        for target in targets:
            pids = target.pids()
            before = cpu_seconds(pids)
            result = run_wrk(
                target.base + "/v1/chat/completions",
                connections=plan.cpu_connections,
                seconds=plan.seconds,
                script=script,
            )
            spent = cpu_seconds(pids) - before
            _count_errors(figures, target.name, result)
            if result.requests:
                figures.cpu_us.setdefault(target.name, []).append(spent / result.requests * 1e6)
                figures.rps.setdefault(target.name, []).append(result.rps)
            time.sleep(0.2)
    return figures
