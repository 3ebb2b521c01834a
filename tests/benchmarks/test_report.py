"""benchmarks/report.py: the issue's checks computed from results, and the README splice."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.report import README_BEGIN, README_END, Check, checks, render_markdown, splice_readme
from benchmarks.run import _ACCESS_LINE, shadow_note

RESULTS: dict[str, Any] = {
    "latency": {"go": {"p50_ms": 0.300}, "naive": {"p50_ms": 0.400}, "gateway": {"p50_ms": 0.360}},
    "cpu": {"naive": {"cpu_us_per_req": 200.0}, "gateway": {"cpu_us_per_req": 300.0}},
    "ttfb": {"naive": {"ttfb_p50_ms": 50.0}, "gateway": {"ttfb_p50_ms": 51.5}},
    "rss": {"gateway": {"kb_per_stream": 41.0}},
    "idle": {"gateway": {"streams": 9900, "held": 9900, "ok": True, "capped": "fd limit"}},
    "shadow": {
        "gateway": {"p50_ms": 0.5}, "gateway-shadow": {"p50_ms": 0.52}, "note": "all skipped",
        "gateway paced": {"p50_ms": 0.6}, "gateway-shadow paced": {"p50_ms": 0.75}, "note_paced": "match 9",
    },
}


def test_checks_are_ratios_and_differences_against_anchors() -> None:
    got = {c.name.split(",")[0]: c for c in checks(RESULTS)}
    cpu = got["CPU per non-stream request"]
    assert cpu.value == pytest.approx(1.5)
    assert cpu.verdict == "FAIL"
    p50 = got["p50 latency at 1 connection"]
    assert p50.value == pytest.approx(1.2)
    assert p50.verdict == "FAIL"
    ttfb = got["TTFB p50 at 100 streams"]
    assert ttfb.value == pytest.approx(1.5)
    assert ttfb.verdict == "pass"
    assert got["RSS per open stream at 1"].verdict == "FAIL"
    idle = got["idle streams held at once without errors"]
    assert (idle.value, idle.limit, idle.verdict, idle.note) == (9900.0, 10000.0, "FAIL", "fd limit")
    shadow = got["GET /v1/models p50"]
    assert shadow.value == pytest.approx(1.04)
    assert shadow.note == "all skipped"


def test_missing_figures_are_not_measured_and_failed_idle_counts_zero() -> None:
    got = checks({"idle": {"gateway": {"streams": 10000, "held": 9000, "ok": False}}})
    assert [c.verdict for c in got[:4]] == ["not measured"] * 4
    assert got[4].value == 0.0
    assert got[4].verdict == "FAIL"


def test_check_sense_min() -> None:
    assert Check("x", 10.0, 10.0, "n", sense="min").verdict == "pass"
    assert Check("x", 9.0, 10.0, "n", sense="min").verdict == "FAIL"
    assert Check("x", 9.0, 10.0, "n").verdict == "pass"


def test_render_markdown_has_command_checks_and_target_rows() -> None:
    results = {**RESULTS, "latency": {**RESULTS["latency"], "gateway": {
        "p50_ms": 0.360, "features": {"x_request_id": True, "metrics": False, "access_log_lines": 12345}}}}
    doc = {
        "meta": {"finished_utc": "2026-11-25 14:00 UTC", "cpus": 2, "loadavg": "0.1 0.2 0.3",
                 "gateway_version": "quotio-gateway 0.1.0", "command": "python benchmarks/run.py"},
        "results": results,
        "skipped": {"nginx": "nginx is not installed"},
    }
    text = render_markdown(doc)
    assert "    python benchmarks/run.py\n" in text
    assert "| CPU per non-stream request, gateway / naive aiohttp proxy | 1.500 x | ≤ 1.30 x | FAIL |" in text
    assert "| gateway | 0.360 | 1.20 | 300 | 1.50 |" in text
    assert "| shadow, sample 1.0 | 0.520 | 1.04 |" in text
    assert "| shadow, sample 1.0, paced | 0.750 | 1.25 |" in text
    assert "Shadow outcomes, paced: match 9." in text
    assert "Not measured in this run: nginx: nginx is not installed" in text
    assert "X-Request-Id on answers yes, request metrics on /metrics NO, 12,345 JSON access-log lines" in text


def test_render_markdown_without_per_target_figures_has_no_empty_table() -> None:
    doc = {
        "meta": {"finished_utc": "t", "cpus": 2, "loadavg": "0", "gateway_version": None, "command": "c"},
        "results": {"shadow": RESULTS["shadow"]},
        "skipped": {},
    }
    text = render_markdown(doc)
    assert "| target |" not in text
    assert "gateway not running" in text
    assert "| legacy mode, paced | 0.600 | 1.00 |" in text


def test_splice_readme_replaces_only_the_marked_block() -> None:
    readme = f"intro\n{README_BEGIN}\nold table\n{README_END}\noutro\n"
    out = splice_readme(readme, "new table\n")
    assert out == f"intro\n{README_BEGIN}\nnew table\n{README_END}\noutro\n"
    with pytest.raises(ValueError):
        splice_readme("no markers here", "x")


def test_shadow_note() -> None:
    assert shadow_note(None) == "shadow outcomes not readable from /metrics"
    assert shadow_note({"skipped": 10.0}) == "no native /v1/models handler yet: every comparison was skipped"
    assert shadow_note({"match": 5.0, "skipped": 0.0}) == "match 5"
    assert shadow_note({}) == "no shadow results counted"
    assert (
        shadow_note({"mismatch": 878.0, "skipped": 5233.0}, {"concurrency": 5233})
        == "mismatch 878, skipped 5,233; skipped because concurrency 5,233"
    )
    # Skips with a known reason are not blamed on a missing native handler.
    assert shadow_note({"skipped": 3.0}, {"native_timeout": 3}) == "skipped 3; skipped because native_timeout 3"
    # With the number of shadowed requests, the note says how many of them were compared.
    assert (
        shadow_note({"mismatch": 90.0, "skipped": 10.0}, {"queue_full": 10}, 100)
        == "90 of 100 shadowed requests compared: mismatch 90, skipped 10; skipped because queue_full 10"
    )


def test_access_lines_counted_only_for_access_events() -> None:
    log = (
        '{"request_id":"a1","event":"access","level":"info","status":200}\n'
        '{"event": "access", "status": 404}\n'
        '{"event":"legacy.health.up","level":"info"}\n'
        'plain text mentioning "event":"access" is not a JSON line\n'
    )
    assert len(_ACCESS_LINE.findall(log)) == 2
