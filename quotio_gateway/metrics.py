"""Prometheus metrics of the gateway, one registry per app so tests can run many apps side by side.

Label values are bounded: ``route`` is a flag-table route label (or ``(default)``), never a raw path.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from . import __version__

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
                    60, 120, 300)

SHADOW_OUTCOMES = ("match", "mismatch", "ignored", "error", "skipped")


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "quotio_gateway_requests", "Requests answered, by flag route, mode, answering side and status",
            ["route", "mode", "side", "status"], registry=r)
        self.request_duration = Histogram(
            "quotio_gateway_request_duration_seconds", "Time from request head to last response byte",
            ["route", "mode", "side"], buckets=_LATENCY_BUCKETS, registry=r)
        self.ttfb = Histogram(
            "quotio_gateway_time_to_first_byte_seconds", "Time from request head to response head",
            ["route", "mode", "side"], buckets=_LATENCY_BUCKETS, registry=r)
        self.open_streams = Gauge(
            "quotio_gateway_open_streams", "Responses currently being streamed to clients",
            ["route", "side"], registry=r)
        self.legacy_up = Gauge("quotio_gateway_legacy_up", "1 when the legacy server answers its health check",
                               registry=r)
        self.legacy_restarts = Counter("quotio_gateway_legacy_restarts",
                                       "Times the supervised legacy binary was (re)started after dying",
                                       registry=r)
        self.legacy_errors = Counter(
            "quotio_gateway_legacy_errors", "Failures talking to the legacy server, by kind",
            ["route", "kind"], registry=r)
        self.native_errors = Counter(
            "quotio_gateway_native_errors", "Native handlers that raised instead of answering",
            ["route"], registry=r)
        self.native_stream_errors = Counter(
            "quotio_gateway_native_stream_errors",
            "Native streamed answers that ended in an error frame after their 200 head went out",
            ["route"], registry=r)
        self.route_mode = Gauge(
            "quotio_gateway_route_mode", "1 for the mode each flag route is in", ["route", "mode"], registry=r)
        self.flags_version = Gauge("quotio_gateway_flags_version", "Version of the active flag table",
                                   registry=r)
        self.shadow_results = Counter(
            "quotio_gateway_shadow_results", "Shadow comparisons by outcome", ["route", "outcome"], registry=r)
        self.shadow_leg_duration = Histogram(
            "quotio_gateway_shadow_leg_duration_seconds", "Duration of each shadow leg",
            ["route", "side"], buckets=_LATENCY_BUCKETS, registry=r)
        self.canary_fallbacks = Counter(
            "quotio_gateway_canary_fallbacks", "Native failures before the first byte answered by legacy",
            ["route"], registry=r)
        self.config_reloads = Counter(
            "quotio_gateway_config_reloads", "Reloads of config.yaml and flags.yaml by result",
            ["file", "result"], registry=r)
        self.build_info = Gauge("quotio_gateway_build_info", "Build information", ["version"], registry=r)
        self.build_info.labels(version=__version__).set(1)
        for file in ("config", "flags"):
            for result in ("success", "failure"):
                self.config_reloads.labels(file=file, result=result)

    def set_route_modes(self, labels: list[tuple[str, str]]) -> None:
        """Publish the active table: one series per (route, mode), 1 for the current mode."""
        self.route_mode.clear()
        for label, mode in labels:
            for candidate in ("legacy", "shadow", "canary", "native"):
                self.route_mode.labels(route=label, mode=candidate).set(1 if candidate == mode else 0)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
