"""Prometheus metrics of credential refresh, registered on the registry the app gives.

Labels are bounded: ``provider`` (the ten provider names), ``reason`` (``due``, ``on_use``,
``unauthorized``, ``runtime``, ``manual``) and ``result`` (``success``, ``failure``, ``conflict``, ``adopted``).
Credential file names never become labels: they hold e-mail addresses.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class RefreshMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.refreshes = Counter(
            "quotio_gateway_credential_refreshes",
            "Credential refresh attempts by provider, why they ran and how they ended "
            "(adopted: another process had already refreshed; conflict: we lost the write and re-read)",
            ["provider", "reason", "result"], registry=r)
        self.duration = Histogram(
            "quotio_gateway_credential_refresh_duration_seconds", "Time spent in one refresh, token call and save",
            ["provider"], buckets=_DURATION_BUCKETS, registry=r)
        self.blocked = Gauge(
            "quotio_gateway_credentials_blocked",
            "Credentials selection skips because their refresh failed and their token is unusable",
            ["provider"], registry=r)
        self.failing = Gauge(
            "quotio_gateway_credentials_refresh_failing",
            "Credentials whose last refresh failed and that wait for their backoff to pass",
            ["provider"], registry=r)
        self.in_flight = Gauge("quotio_gateway_credential_refreshes_in_flight",
                               "Refreshes running right now", registry=r)

    def set_states(self, blocked: dict[str, int], failing: dict[str, int]) -> None:
        """Publish per-provider counts; providers that dropped to zero are written as zero."""
        for gauge, counts in ((self.blocked, blocked), (self.failing, failing)):
            seen = {labels[0] for labels in _label_sets(gauge)}
            for provider in seen | set(counts):
                gauge.labels(provider=provider).set(counts.get(provider, 0))


def _label_sets(gauge: Gauge) -> list[tuple[str, ...]]:
    # prometheus-client keeps children in a dict keyed by label values; collect() is the public way.
    out: list[tuple[str, ...]] = []
    for family in gauge.collect():
        for sample in family.samples:
            out.append((sample.labels.get("provider", ""),))
    return out
