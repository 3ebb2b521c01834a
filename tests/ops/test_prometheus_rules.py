"""ops/prometheus-rules.yml: valid for promtool, its unit tests pass and bite, names match the gateway."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from quotio_gateway.metrics import Metrics

OPS = Path(__file__).resolve().parents[2] / "ops"
RULES = OPS / "prometheus-rules.yml"
RULE_TESTS = OPS / "prometheus-rules.test.yml"
SCRAPE_EXAMPLE = OPS / "prometheus.yml"
RUNBOOK = OPS / "RUNBOOK.md"

REQUIRED_ALERTS = {
    # name: (for, severity)
    "QuotioShadowMismatchRateHigh": ("10m", "warning"),
    "QuotioLegacyDown": ("1m", "critical"),
    "QuotioNativeErrorRateAboveLegacy": ("10m", "critical"),
    "QuotioConfigReloadFailing": (None, "warning"),
}


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=cwd, check=False)


def _alerts() -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return {rule["alert"]: rule for group in doc["groups"] for rule in group["rules"] if "alert" in rule}


def exposed_names() -> set[str]:
    """Every sample name the gateway can export, including labelled series not yet created."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    names = set()
    for family in Metrics().registry.collect():
        names.update(family.name + suffix for suffix in suffixes[family.type])
    return names


def test_promtool_check_rules_accepts_the_file(promtool: str) -> None:
    result = _run(promtool, "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {sum(1 for _ in _alerts())} rules found" in result.stdout


def test_promtool_check_rules_rejects_a_broken_expression(promtool: str, tmp_path: Path) -> None:
    broken = tmp_path / "rules.yml"
    broken.write_text(RULES.read_text().replace("quotio_gateway_legacy_up == 0", "quotio_gateway_legacy_up == ", 1))
    result = _run(promtool, "check", "rules", str(broken))
    assert result.returncode == 1
    assert "FAILED" in result.stdout + result.stderr


def test_rule_unit_tests_pass(promtool: str) -> None:
    result = _run(promtool, "test", "rules", RULE_TESTS.name, cwd=OPS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(("old", "new"), [
    # The mismatch threshold loosened tenfold: the 4.8% route must then stay quiet.
    (") > 0.01\n", ") > 0.1\n"),
    # The legacy-down exemption inverted: fully native instances would page, broken ones not.
    ("unless on (job, instance)", "and on (job, instance)"),
    # A native route compared against legacy + 10 points instead of + 1 point.
    ("+ 0.01\n", "+ 0.1\n"),
])
def test_rule_unit_tests_fail_when_a_rule_is_weakened(promtool: str, tmp_path: Path, old: str,
                                                      new: str) -> None:
    source = RULES.read_text()
    assert source.count(old) == 1, old
    (tmp_path / RULES.name).write_text(source.replace(old, new))
    (tmp_path / RULE_TESTS.name).write_text(RULE_TESTS.read_text())
    result = _run(promtool, "test", "rules", RULE_TESTS.name, cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    assert "FAILED" in result.stdout + result.stderr


def test_required_alerts_have_the_agreed_hold_time_severity_and_text() -> None:
    alerts = _alerts()
    runbook = RUNBOOK.read_text()
    anchors = {"#" + m.group(1).strip().lower() for m in re.finditer(r"^#{2,4} +(.+)$", runbook, re.M)}
    for name, (hold, severity) in REQUIRED_ALERTS.items():
        rule = alerts[name]
        assert rule.get("for") == hold, name
        assert rule["labels"]["severity"] == severity, name
        assert rule["annotations"]["summary"], name
        assert rule["annotations"]["description"], name
        runbook_ref = rule["annotations"]["runbook"]
        assert runbook_ref.startswith("ops/RUNBOOK.md#"), name
        assert runbook_ref.removeprefix("ops/RUNBOOK.md") in anchors, f"{name}: no runbook section {runbook_ref}"


def test_every_alert_has_a_unit_test() -> None:
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test.get("alert_rule_test", [])
              if case.get("exp_alerts")}
    assert tested == set(_alerts())


def test_rules_only_use_metrics_the_gateway_exports() -> None:
    exposed = exposed_names()
    for name, rule in _alerts().items():
        used = set(re.findall(r"\bquotio_gateway_[a-z_]+", rule["expr"]))
        assert used <= exposed, f"{name} uses {sorted(used - exposed)}"


def test_rules_match_the_thresholds_of_the_contract() -> None:
    alerts = _alerts()
    assert re.search(r"\)\s*>\s*0\.01\s*$", alerts["QuotioShadowMismatchRateHigh"]["expr"].strip())
    assert 'outcome="mismatch"' in alerts["QuotioShadowMismatchRateHigh"]["expr"]
    assert alerts["QuotioLegacyDown"]["expr"].startswith("quotio_gateway_legacy_up == 0")
    assert "+ 0.01" in alerts["QuotioNativeErrorRateAboveLegacy"]["expr"]
    assert 'result="failure"' in alerts["QuotioConfigReloadFailing"]["expr"]


def test_scrape_example_is_a_valid_prometheus_config(promtool: str, tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "quotio-gateway.yml").write_text(RULES.read_text())
    config = tmp_path / "prometheus.yml"
    config.write_text(SCRAPE_EXAMPLE.read_text().replace("/etc/prometheus/rules", str(rules_dir)))
    result = _run(promtool, "check", "config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    doc = yaml.safe_load(SCRAPE_EXAMPLE.read_text())
    job = doc["scrape_configs"][0]
    # QuotioGatewayDown matches this job name.
    assert job["job_name"] == "quotio-gateway"
    assert 'up{job="quotio-gateway"}' in _alerts()["QuotioGatewayDown"]["expr"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["127.0.0.1:8317"]
