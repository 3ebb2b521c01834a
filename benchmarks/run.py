"""Benchmarks of quotio-gateway against the anchors in ../shared/bench, in one run.

    python benchmarks/run.py [--quick] [--only NAME[,NAME]] [--no-readme]

Cases: latency (p50 at one connection), cpu (CPU µs per request at c=8), ttfb (first byte at
100 streams), rss (RSS per open stream at 1,000 streams), idle (10,000 idle streams held),
shadow (GET /v1/models, shadow at sample 1.0 against legacy mode). Each case starts its own
fresh processes. Prints markdown tables, writes benchmarks/results/latest.json (and latest.md),
and, after a full run of every case, rewrites the results block of benchmarks/README.md.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import latency, streams
from benchmarks.harness import case_parser, raise_nofile, selected_cases
from benchmarks.report import checks, render_markdown, splice_readme
from benchmarks.targets import REPO, Lab, Target, anchors_dir, gateway_version

RESULTS = REPO / "benchmarks" / "results"
README = REPO / "benchmarks" / "README.md"
CASES = ("latency", "cpu", "ttfb", "rss", "idle", "shadow")
SHADOW_ROUTE = {"match": "GET /v1/models", "mode": "shadow", "sample": 1.0}
AUTH = "Authorization: Bearer sk-bench"
PACE_MS = 2


class Run:
    def __init__(self, quick: bool, workroot: Path) -> None:
        self.quick = quick
        self.workroot = workroot
        self.lat_plan = latency.QUICK if quick else latency.FULL
        self.stream_plan = streams.QUICK if quick else streams.FULL
        self.skipped: dict[str, str] = {}
        self.post_lua = anchors_dir() / "post.lua"

    def lab(self, case: str, names: tuple[str, ...]) -> tuple[Lab, list[Target]]:
        lab = Lab(Path(tempfile.mkdtemp(prefix=f"{case}-", dir=self.workroot)))
        for name, reason in lab.start_all(n for n in names if n != "direct").items():
            self.skipped.setdefault(name, reason)
        return lab, [lab.targets[n] for n in names if n in lab.targets]

    def case_latency(self) -> dict[str, Any]:
        lab, targets = self.lab("latency", ("direct", "nginx", "go", "naive", "gateway"))
        try:
            out: dict[str, Any] = latency.measure_latency(targets, self.lat_plan, script=self.post_lua).summary()
            if "gateway" in lab.targets:
                out["gateway"]["features"] = gateway_features(lab.targets["gateway"])
            return out
        finally:
            lab.stop()

    def case_cpu(self) -> dict[str, Any]:
        lab, targets = self.lab("cpu", ("nginx", "go", "naive", "gateway"))
        try:
            return latency.measure_cpu(targets, self.lat_plan, self.post_lua).summary()
        finally:
            lab.stop()

    def case_ttfb(self) -> dict[str, Any]:
        lab, targets = self.lab("ttfb", ("direct", "nginx", "go", "naive", "gateway"))
        try:
            return streams.ttfb_case(targets, self.stream_plan)
        finally:
            lab.stop()

    def _one_lab_per_target(
        self, case: str, names: tuple[str, ...], measure: Callable[[list[Target]], dict[str, Any]]
    ) -> dict[str, Any]:
        # Streams the client drops can stay open between a proxy and the mock until their delay
        # runs out (aiohttp does not cancel handlers on disconnect), so each target gets its own
        # mock: one target's leftovers must not eat the next one's descriptors or CPU.
        out: dict[str, Any] = {}
        for name in names:
            lab, targets = self.lab(case, (name,))
            try:
                if targets:
                    out.update(measure(targets))
            finally:
                lab.stop()
        return out

    def case_rss(self) -> dict[str, Any]:
        return self._one_lab_per_target(
            "rss", ("nginx", "go", "naive", "gateway"), lambda ts: streams.rss_case(ts, self.stream_plan)
        )

    def case_idle(self) -> dict[str, Any]:
        # The naive proxy is the anchor that shows the harness itself can hold the streams.
        return self._one_lab_per_target(
            "idle", ("naive", "gateway"), lambda ts: streams.idle_case(ts, self.stream_plan)
        )

    def case_shadow(self) -> dict[str, Any]:
        """Closed loop (the next request as soon as the last answered: the check) and paced.

        At one connection in a closed loop the gateway is never idle, so shadow legs compete with
        the client's requests all the time; paced, wrk waits PACE_MS between requests (wrk's
        `delay()` hook, not counted in latency), which is closer to an interactive client.
        Each pass gets fresh gateways so its shadow outcomes are its own.
        """
        out: dict[str, Any] = {}
        paced = self.workroot / "paced.lua"
        paced.write_text(f"function delay()\n  return {PACE_MS}\nend\n")
        for style, script in (("closed", None), ("paced", paced)):
            got = self._shadow_pass(script)
            if not got:
                return {}
            suffix = "" if style == "closed" else " paced"
            for name in ("gateway", "gateway-shadow"):
                out[name + suffix] = got[name]
            for field in ("shadow_outcomes", "skip_reasons", "note"):
                out[field + ("" if style == "closed" else "_paced")] = got[field]
        return out

    def _shadow_pass(self, script: Path | None) -> dict[str, Any]:
        lab = Lab(Path(tempfile.mkdtemp(prefix="shadow-", dir=self.workroot)))
        try:
            try:
                legacy = lab.add("gateway")
                # A throwaway management key, only so the skip reasons can be read back.
                key = secrets.token_urlsafe(24)
                shadow = lab.add("gateway-shadow", routes=[SHADOW_ROUTE], env={"MANAGEMENT_PASSWORD": key})
            except Exception as exc:
                self.skipped.setdefault("shadow", str(exc))
                return {}
            out: dict[str, Any] = latency.measure_latency(
                [legacy, shadow], self.lat_plan, path="/v1/models", headers=[AUTH], script=script
            ).summary()
            served, outcomes = settle_shadow(shadow.base)
            reasons = shadow_skip_reasons(shadow.base, key)
            out["shadow_outcomes"] = outcomes
            out["shadowed_requests"] = served
            out["skip_reasons"] = reasons
            out["note"] = shadow_note(outcomes, reasons, served)
            return out
        finally:
            lab.stop()


_ACCESS_LINE = re.compile(r'^\{.*"event"\s*:\s*"access"', re.M)


def gateway_features(target: Target) -> dict[str, Any]:
    """Evidence that the measured gateway ran with request ids, metrics and access logging on."""
    req = urllib.request.Request(target.base + "/v1/models", headers={"Authorization": AUTH.split(": ", 1)[1]})
    with urllib.request.urlopen(req, timeout=10) as resp:
        request_id = bool(resp.headers.get("X-Request-Id"))
    with urllib.request.urlopen(target.base + "/metrics", timeout=10) as resp:
        metrics = b"quotio_gateway_requests_total{" in resp.read()
    log = target.proc.log_path.read_text(errors="replace")
    return {
        "x_request_id": request_id,
        "metrics": metrics,
        "access_log_lines": len(_ACCESS_LINE.findall(log)),
    }


_SHADOW_LINE = re.compile(r'^quotio_gateway_shadow_results_total\{([^}]*)\}\s+([0-9.e+]+)$', re.M)


def shadow_outcomes(base: str) -> dict[str, float] | None:
    """Shadow comparison counts by outcome from the gateway's /metrics, or None if unreadable."""
    try:
        with urllib.request.urlopen(base + "/metrics", timeout=10) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    counts: dict[str, float] = {}
    for labels, value in _SHADOW_LINE.findall(text):
        found = re.search(r'outcome="([^"]*)"', labels)
        if found:
            counts[found.group(1)] = counts.get(found.group(1), 0.0) + float(value)
    return counts


_SERVED_LINE = re.compile(r'^quotio_gateway_requests_total\{([^}]*)\}\s+([0-9.e+]+)$', re.M)


def shadowed_requests(base: str) -> int | None:
    """Requests the gateway answered in shadow mode (every one is a comparison to account for)."""
    try:
        with urllib.request.urlopen(base + "/metrics", timeout=10) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    return int(sum(float(value) for labels, value in _SERVED_LINE.findall(text) if 'mode="shadow"' in labels))


def settle_shadow(base: str, *, limit: float = 120.0) -> tuple[int | None, dict[str, float] | None]:
    """Shadowed requests and outcomes once every comparison is accounted for.

    The shadow worker compares at idle priority, so it may still be working through its backlog
    when wrk stops; wait (bounded) until the outcomes add up to the requests or stop moving.
    """
    deadline = time.monotonic() + limit
    served = shadowed_requests(base)
    outcomes = shadow_outcomes(base)
    still = 0
    while served is not None and outcomes is not None and time.monotonic() < deadline:
        total = sum(outcomes.values())
        if total >= served:
            break
        time.sleep(0.5)
        newer = shadow_outcomes(base)
        still = still + 1 if newer == outcomes else 0
        outcomes = newer
        if still >= 6:
            break
    return served, outcomes


def shadow_skip_reasons(base: str, key: str) -> dict[str, int] | None:
    """Why comparisons were skipped, summed over routes, from /v0/gateway/shadow; None if unreadable."""
    req = urllib.request.Request(base + "/v0/gateway/shadow?limit=1", headers={"X-Management-Key": key})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = json.loads(resp.read())
    except (OSError, ValueError):
        return None
    totals: dict[str, int] = {}
    for per_route in (body.get("skip_reasons") or {}).values():
        for reason, count in per_route.items():
            totals[reason] = totals.get(reason, 0) + int(count)
    return totals


def shadow_note(outcomes: dict[str, float] | None, reasons: dict[str, int] | None = None,
                served: int | None = None) -> str:
    if outcomes is None:
        return "shadow outcomes not readable from /metrics"
    compared = sum(v for k, v in outcomes.items() if k != "skipped")
    if not compared and outcomes.get("skipped") and not reasons:
        return "no native /v1/models handler yet: every comparison was skipped"
    text = ", ".join(f"{k} {v:,.0f}" for k, v in sorted(outcomes.items()) if v) or "no shadow results counted"
    if reasons:
        text += "; skipped because " + ", ".join(f"{k} {v:,}" for k, v in sorted(reasons.items()))
    if served is not None:
        text = f"{compared:,.0f} of {served:,} shadowed requests compared: " + text
    return text


def main(argv: list[str] | None = None) -> int:
    parser = case_parser(__doc__, CASES)
    args = parser.parse_args(argv)
    only, selected = selected_cases(parser, args, CASES)

    raise_nofile()
    command = "python benchmarks/run.py" + (" --quick" if args.quick else "") + (
        f" --only {','.join(only)}" if only else ""
    )
    started = time.time()
    loadavg = " ".join(f"{x:.2f}" for x in os.getloadavg())
    RESULTS.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="quotio-bench-") as tmp:
        run = Run(args.quick, Path(tmp))
        for case in selected:
            t0 = time.monotonic()
            print(f"[bench] {case} ...", file=sys.stderr, flush=True)
            method: Callable[[], dict[str, Any]] = getattr(run, f"case_{case}")
            try:
                results[case] = method()
            except (OSError, RuntimeError, ValueError, subprocess.SubprocessError) as exc:
                # One broken case (a tool crashing, a port race) must not lose the others' figures.
                results[case] = {}
                run.skipped[case] = f"{type(exc).__name__}: {exc}"
            print(f"[bench] {case} done in {time.monotonic() - t0:.0f}s", file=sys.stderr, flush=True)
    doc = {
        "meta": {
            "command": command,
            "quick": args.quick,
            "cases": selected,
            "started_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
            "finished_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "cpus": os.cpu_count(),
            "loadavg": loadavg,
            "gateway_version": gateway_version(),
            "python": sys.version.split()[0],
        },
        "results": results,
        "skipped": run.skipped,
        "checks": [
            {"name": c.name, "value": c.value, "limit": c.limit, "unit": c.unit, "verdict": c.verdict}
            for c in checks(results)
        ],
    }
    markdown = render_markdown(doc)
    (RESULTS / "latest.json").write_text(json.dumps(doc, indent=2) + "\n")
    (RESULTS / "latest.md").write_text(markdown)
    print(markdown)
    if not args.no_readme and not only and README.exists():
        README.write_text(splice_readme(README.read_text(), markdown))
        print(f"[bench] results written into {README.relative_to(REPO)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
