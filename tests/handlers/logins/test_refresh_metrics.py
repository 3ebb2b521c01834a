"""Refresh metrics: registered on the given registry, per-provider gauges drop back to zero."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from handlers.logins.refresh_metrics import RefreshMetrics


def test_gauges_follow_the_latest_counts():
    registry = CollectorRegistry()
    metrics = RefreshMetrics(registry)
    metrics.set_states({"qwen": 2}, {"qwen": 3, "kiro": 1})
    assert registry.get_sample_value("quotio_gateway_credentials_blocked", {"provider": "qwen"}) == 2
    assert registry.get_sample_value("quotio_gateway_credentials_refresh_failing", {"provider": "kiro"}) == 1
    metrics.set_states({}, {"kiro": 1})
    assert registry.get_sample_value("quotio_gateway_credentials_blocked", {"provider": "qwen"}) == 0
    assert registry.get_sample_value("quotio_gateway_credentials_refresh_failing", {"provider": "qwen"}) == 0


def test_two_apps_keep_separate_registries():
    first, second = CollectorRegistry(), CollectorRegistry()
    RefreshMetrics(first).refreshes.labels(provider="qwen", reason="due", result="success").inc()
    RefreshMetrics(second)
    labels = {"provider": "qwen", "reason": "due", "result": "success"}
    assert first.get_sample_value("quotio_gateway_credential_refreshes_total", labels) == 1
    assert second.get_sample_value("quotio_gateway_credential_refreshes_total", labels) is None
