"""Turn measured figures into the issue's target checks and the markdown tables of README.md."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from benchmarks.harness import ratio
from benchmarks.targets import ALL_TARGETS

README_BEGIN = "<!-- bench-results:begin (written by benchmarks/run.py) -->"
README_END = "<!-- bench-results:end -->"


@dataclass(frozen=True)
class Check:
    """One target from the issue: what was measured against what limit."""

    name: str
    value: float | None
    limit: float
    unit: str
    # "max": value must be <= limit; "min": value must be >= limit.
    sense: str = "max"
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "not measured"
        ok = self.value <= self.limit if self.sense == "max" else self.value >= self.limit
        return "pass" if ok else "FAIL"


def _get(results: Mapping[str, Any], case: str, target: str, key: str) -> Any:
    return results.get(case, {}).get(target, {}).get(key)


def checks(results: Mapping[str, Any]) -> list[Check]:
    """The six targets of the issue, each a ratio or difference against an anchor in the same run."""
    ttfb_gw = _get(results, "ttfb", "gateway", "ttfb_p50_ms")
    ttfb_naive = _get(results, "ttfb", "naive", "ttfb_p50_ms")
    idle = results.get("idle", {}).get("gateway")
    shadow_note = results.get("shadow", {}).get("note", "")
    idle_note = (idle or {}).get("capped") or ""
    return [
        Check(
            "CPU per non-stream request, gateway / naive aiohttp proxy",
            ratio(_get(results, "cpu", "gateway", "cpu_us_per_req"), _get(results, "cpu", "naive", "cpu_us_per_req")),
            1.3,
            "x",
        ),
        Check(
            "p50 latency at 1 connection, gateway / Go reverse proxy",
            ratio(_get(results, "latency", "gateway", "p50_ms"), _get(results, "latency", "go", "p50_ms")),
            1.10,
            "x",
        ),
        Check(
            "TTFB p50 at 100 streams, gateway minus naive proxy",
            None if ttfb_gw is None or ttfb_naive is None else ttfb_gw - ttfb_naive,
            2.0,
            "ms",
        ),
        Check(
            "RSS per open stream at 1,000 streams, gateway",
            _get(results, "rss", "gateway", "kb_per_stream"),
            40.0,
            "KB",
        ),
        Check(
            "idle streams held at once without errors, gateway",
            None if idle is None else float(idle.get("held", 0) if idle.get("ok") else 0),
            # The figure, even where the machine cannot open that many sockets: a capped
            # run is reported as short of it, with the cap in the note, never as a pass.
            10000.0,
            "streams",
            sense="min",
            note=idle_note,
        ),
        Check(
            "GET /v1/models p50, shadow at 100% / legacy",
            ratio(_get(results, "shadow", "gateway-shadow", "p50_ms"), _get(results, "shadow", "gateway", "p50_ms")),
            1.1,
            "x",
            note=shadow_note,
        ),
    ]


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "–"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def render_markdown(doc: Mapping[str, Any]) -> str:
    """Markdown for README.md: the checks, then the per-target tables, then what was skipped."""
    results = doc["results"]
    meta = doc["meta"]
    out = [
        f"Measured {meta['finished_utc']} on {meta['cpus']} CPUs (load average at start "
        f"{meta['loadavg']}), gateway {meta['gateway_version'] or 'not running'}, by:",
        "",
        "    " + meta["command"],
        "",
    ]
    out += _table(["target (issue)", "measured", "limit", "verdict"], [_check_row(c) for c in checks(results)])
    features = results.get("latency", {}).get("gateway", {}).get("features")
    if features:
        out += ["", "Gateway as measured: X-Request-Id on answers "
                f"{'yes' if features['x_request_id'] else 'NO'}, request metrics on /metrics "
                f"{'yes' if features['metrics'] else 'NO'}, {features['access_log_lines']:,} JSON access-log "
                "lines written during the latency case."]
    per_target_cases = ("latency", "cpu", "ttfb", "rss", "idle")
    names = [n for n in ALL_TARGETS if any(n in results.get(c, {}) for c in per_target_cases)]
    go_p50 = _get(results, "latency", "go", "p50_ms")
    naive_cpu = _get(results, "cpu", "naive", "cpu_us_per_req")
    naive_ttfb = _get(results, "ttfb", "naive", "ttfb_p50_ms")
    rows = []
    for name in names:
        p50 = _get(results, "latency", name, "p50_ms")
        cpu = _get(results, "cpu", name, "cpu_us_per_req")
        ttfb = _get(results, "ttfb", name, "ttfb_p50_ms")
        rows.append([
            name,
            _fmt(p50, 3),
            _fmt(ratio(p50, go_p50)),
            _fmt(cpu, 0),
            _fmt(ratio(cpu, naive_cpu)),
            _fmt(_get(results, "cpu", name, "rps_c8"), 0),
            _fmt(ttfb),
            _fmt(None if ttfb is None or naive_ttfb is None else ttfb - naive_ttfb),
            _fmt(_get(results, "rss", name, "kb_per_stream"), 1),
            _idle_cell(results.get("idle", {}).get(name)),
        ])
    out += [] if not rows else ["", *_table(
        ["target", "p50 c=1 ms", "÷ Go", "CPU µs/req c=8", "÷ naive", "req/s c=8",
         "TTFB p50 ms, 100 streams", "− naive ms", "KB/stream, 1,000 open", "10k idle"],
        rows,
    )]
    out += _shadow_lines(results.get("shadow", {}))
    if doc.get("skipped"):
        out += ["", "Not measured in this run: " + "; ".join(f"{k}: {v}" for k, v in sorted(doc["skipped"].items()))]
    return "\n".join(out) + "\n"


def _shadow_lines(shadow: Mapping[str, Any]) -> list[str]:
    """GET /v1/models through a legacy-mode and a shadow-mode gateway, closed loop and paced."""
    rows = []
    for suffix, load in (("", ""), (" paced", ", paced")):
        legacy_p50 = shadow.get("gateway" + suffix, {}).get("p50_ms")
        shadow_p50 = shadow.get("gateway-shadow" + suffix, {}).get("p50_ms")
        if legacy_p50 is None and shadow_p50 is None:
            continue
        rows.append([f"legacy mode{load}", _fmt(legacy_p50, 3), _fmt(ratio(legacy_p50, legacy_p50))])
        rows.append([f"shadow, sample 1.0{load}", _fmt(shadow_p50, 3), _fmt(ratio(shadow_p50, legacy_p50))])
    if not rows:
        return []
    lines = ["", *_table(["GET /v1/models through the gateway", "p50 c=1 ms", "÷ legacy mode"], rows)]
    if "note_paced" in shadow:
        lines += ["", "Closed loop: the next request leaves as soon as the last is answered (the check above). "
                  "Paced: wrk waits between requests, leaving the event loop idle time for the shadow leg. "
                  f"Shadow outcomes, paced: {shadow['note_paced']}. Every comparison ends in `mismatch` by "
                  "construction: the anchors' mock upstream lists other models than the gateway's config, so "
                  "each one runs the comparator to the end, the dearest case."]
    return lines


def _check_row(check: Check) -> list[str]:
    digits = 3 if check.unit == "x" else 2
    bound = "≤" if check.sense == "max" else "≥"
    return [
        check.name,
        f"{_fmt(check.value, digits)} {check.unit}",
        f"{bound} {_fmt(check.limit)} {check.unit}",
        check.verdict + (f" ({check.note})" if check.note else ""),
    ]


def _idle_cell(row: Mapping[str, Any] | None) -> str:
    if not row:
        return "–"
    held = f"{row.get('held', 0):,}/{row.get('streams', 0):,}"
    return f"ok, {held}" if row.get("ok") else f"failed, {held} ({row.get('first_error') or 'closed early'})"


def splice_readme(readme: str, block: str) -> str:
    """Replace what lies between the README markers with `block` (markers must both be there)."""
    start = readme.index(README_BEGIN) + len(README_BEGIN)
    end = readme.index(README_END, start)
    return readme[:start] + "\n" + block + readme[end:]
