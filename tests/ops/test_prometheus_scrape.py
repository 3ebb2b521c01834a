"""ops/grafana-dashboard.json: well formed, and every query gets data from a real Prometheus
that scrapes a running gateway."""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web

from quotio_gateway.metrics import Metrics
from tests.fakes.loopback import serve_on_loopback

OPS = Path(__file__).resolve().parents[2] / "ops"
DASHBOARD = OPS / "grafana-dashboard.json"
JOB = "quotio-gateway"

# Grafana fills these in; concrete values let Prometheus evaluate the same text. Windows must span
# at least two scrapes of the test server (1 s apart).
GRAFANA_VALUES = {"$__rate_interval": "1m", "$__range": "1m", "$instance": ".*", "$route": ".*"}


def load_dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title + refId, expr) for every target of every panel."""
    return [(f"{p['title']} [{t['refId']}]", t["expr"]) for p in panels(dashboard) for t in p.get("targets", [])]


def concrete(expr: str) -> str:
    for name in sorted(GRAFANA_VALUES, key=len, reverse=True):
        expr = expr.replace(name, GRAFANA_VALUES[name])
    assert "$" not in expr, f"unsubstituted Grafana variable in {expr!r}"
    return expr


def exported_names() -> set[str]:
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    names = set()
    for family in Metrics().registry.collect():
        names.update(family.name + suffix for suffix in suffixes[family.type])
    return names


# --- the dashboard file itself -----------------------------------------------------------------


def test_dashboard_is_a_grafana_10_model_with_a_datasource_variable() -> None:
    dashboard = load_dashboard()
    assert dashboard["uid"] == "quotio-gateway-rollout"
    assert dashboard["schemaVersion"] >= 38
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("instance", "route"):
        assert variables[name]["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert variables[name]["allValue"] == ".*"
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids))
    for panel in panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]


def test_dashboard_panels_do_not_overlap() -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in panels(load_dashboard()):
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_dashboard_covers_the_rollout_signals() -> None:
    exprs = " ".join(expr for _, expr in queries(load_dashboard()))
    for needed in [
        "sum by (route, mode, side) (rate(quotio_gateway_requests_total",
        'status=~"5.."',
        "histogram_quantile(0.95, sum by (le, side) (rate(quotio_gateway_request_duration_seconds_bucket",
        "histogram_quantile(0.5, sum by (le, side) (rate(quotio_gateway_time_to_first_byte_seconds_bucket",
        "quotio_gateway_open_streams",
        'outcome="mismatch"',
        "quotio_gateway_legacy_up",
        "quotio_gateway_legacy_restarts_total",
        "quotio_gateway_canary_fallbacks_total",
        "quotio_gateway_native_stream_errors_total",
        'quotio_gateway_config_reloads_total{instance=~"$instance", result="failure"}',
        "quotio_gateway_route_mode{instance=~\"$instance\", route=~\"$route\"} == 1",
        "quotio_gateway_build_info",
    ]:
        assert needed in exprs, needed
    mode_table = next(p for p in panels(load_dashboard()) if p["title"] == "Route modes")
    assert mode_table["type"] == "table"
    assert mode_table["targets"][0]["instant"] is True
    assert mode_table["targets"][0]["format"] == "table"


def test_dashboard_only_uses_metrics_the_gateway_exports() -> None:
    exported = exported_names()
    for title, expr in queries(load_dashboard()):
        used = set(re.findall(r"\bquotio_gateway_[a-z_]+", expr))
        assert used and used <= exported, f"{title}: unknown {sorted(used - exported)}"


# --- a real Prometheus scraping a running gateway ----------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrometheusProcess:
    def __init__(self, binary: str, workdir: Path, target: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": [target]}]}],
        }))
        self.log = workdir / "prometheus.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
                stdout=log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    async def query(self, session: aiohttp.ClientSession, expr: str) -> list[dict[str, Any]]:
        async with session.get(f"{self.url}/api/v1/query", params={"query": expr}) as resp:
            doc = await resp.json()
        assert doc["status"] == "success", f"{expr}: {doc}"
        return list(doc["data"]["result"])

    async def label_values(self, session: aiohttp.ClientSession, label: str, match: str) -> list[str]:
        async with session.get(f"{self.url}/api/v1/label/{label}/values", params={"match[]": match}) as resp:
            doc = await resp.json()
        assert doc["status"] == "success", doc
        return list(doc["data"])


async def _until(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 30.0) -> None:
    try:
        async with asyncio.timeout(seconds):
            while True:
                try:
                    if await check():
                        return
                except aiohttp.ClientError:
                    pass  # not listening yet
                await asyncio.sleep(0.25)
    except TimeoutError:
        raise AssertionError(f"timed out after {seconds:.0f}s waiting for {what}") from None


async def _scrapes(prom: PrometheusProcess, session: aiohttp.ClientSession) -> int:
    result = await prom.query(session, f'count_over_time(up{{job="{JOB}"}}[5m])')
    return int(float(result[0]["value"][1])) if result else 0


# The real CLI and app, plus one native route that raises: no shipped handler fails on purpose,
# and the native-error panel needs a failure to show.
_LAUNCHER = """
import sys

import quotio_gateway.app as gateway_app

_shipped = gateway_app.build_native_registry


async def _boom(request):
    raise RuntimeError("fault injected by tests/ops/test_prometheus_scrape.py")


async def _stream_fails(request):
    # What an inference handler does when its stream ends in an error frame after the 200 head.
    from aiohttp import web

    from quotio_gateway.dispatch import STREAM_FAILED_KEY

    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b'data: {"error": "fault injected"}\\n\\n')
    request[STREAM_FAILED_KEY] = True
    await response.write_eof()
    return response


def _with_fault():
    registry = _shipped()
    registry.get("/ops/boom", _boom)
    registry.get("/ops/stream-fails", _stream_fails)
    return registry


gateway_app.build_native_registry = _with_fault
from quotio_gateway.cli import main

sys.exit(main(sys.argv[1:]))
"""

SECRET = "sk-ops-test-0123456789abcdef"


async def _fake_legacy() -> web.Application:
    """Stands in for CLIProxyAPI: a greeting that differs from the native one every other time,
    a stream, a failing path and a path that drops the connection."""
    calls = {"root": 0}

    async def root(request: web.Request) -> web.Response:
        calls["root"] += 1
        message = "CLI Proxy API Server" if calls["root"] % 2 else "CLI Proxy API Server (legacy build)"
        return web.json_response({"message": message,
                                  "endpoints": ["POST /v1/chat/completions", "POST /v1/completions",
                                                "GET /v1/models"]})

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for i in range(3):
            await response.write(f"data: {i}\n\n".encode())
            await asyncio.sleep(0.01)
        await response.write_eof()
        return response

    async def fail(request: web.Request) -> web.Response:
        return web.json_response({"error": "upstream unavailable"}, status=503)

    async def reset(request: web.Request) -> web.Response:
        assert request.transport is not None
        request.transport.abort()
        return web.Response()

    async def anything(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "path": request.path})

    app = web.Application()
    app.router.add_get("/", root)
    app.router.add_get("/ops/stream", stream)
    app.router.add_get("/ops/fail", fail)
    app.router.add_get("/ops/reset", reset)
    app.router.add_route("*", "/{tail:.*}", anything)
    return app


class Gateway:
    def __init__(self, tmp_path: Path, legacy_url: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.target = f"127.0.0.1:{self.port}"
        config = tmp_path / "config.yaml"
        config.write_text(yaml.safe_dump({"host": "127.0.0.1", "port": self.port,
                                          "auth-dir": str(tmp_path / "auths")}))
        flags = tmp_path / "flags.yaml"
        flags.write_text(yaml.safe_dump({
            "version": 1,
            "default": "legacy",
            "legacy": {"url": legacy_url, "health_path": "/"},
            "shadow": {"timeout_seconds": 5},
            "routes": [
                {"match": "GET /", "mode": "shadow"},
                {"match": "GET /ops/boom", "mode": "native"},
                {"match": "GET /ops/stream-fails", "mode": "native"},
                {"match": "GET /ops/canary", "mode": "canary", "percent": 100, "fallback_to_legacy": True},
            ],
        }))
        self.log = tmp_path / "gateway.log"
        env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")}
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _LAUNCHER, "serve", "--config", str(config), "--flags", str(flags),
                 "--state-dir", str(tmp_path / "state"), "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def ready(self, session: aiohttp.ClientSession) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"gateway exited with {self.process.returncode}:\n{self.output()[-3000:]}")
        async with session.get(f"{self.url}/metrics") as resp:
            text = await resp.text()
        return resp.status == 200 and "quotio_gateway_legacy_up 1.0" in text

    async def traffic(self, session: aiohttp.ClientSession) -> None:
        """A request mix that touches every series the dashboard reads."""
        for path in ["/", "/", "/", "/", "/ops/stream", "/ops/stream", "/ops/fail", "/ops/reset",
                     "/ops/boom", "/ops/stream-fails", "/ops/canary", f"/v1beta/models?key={SECRET}"]:
            async with session.get(self.url + path) as resp:
                await resp.read()


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    legacy, legacy_url = await serve_on_loopback(await _fake_legacy())
    gateway = Gateway(tmp_path, legacy_url)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            await _until(lambda: gateway.ready(session), "the gateway to serve /metrics with legacy up")
        yield gateway
    finally:
        gateway.stop()
        await legacy.cleanup()


async def test_every_dashboard_query_gets_data_from_a_scraped_gateway(
        prometheus_bin: str, tmp_path: Path, gateway: Gateway) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        await gateway.traffic(session)
        prom = PrometheusProcess(prometheus_bin, tmp_path, gateway.target)
        try:
            await _until(lambda: _up(prom, session), "Prometheus to scrape the gateway")
            # Traffic between scrapes, so rates and quantiles are real numbers rather than 0 / NaN.
            seen = await _scrapes(prom, session)
            await gateway.traffic(session)

            async def scraped_again() -> bool:
                return await _scrapes(prom, session) >= seen + 3

            await _until(scraped_again, "three more scrapes")

            missing = []
            for title, expr in queries(load_dashboard()):
                result = await prom.query(session, concrete(expr))
                values = [float(series["value"][1]) for series in result]
                if not any(math.isfinite(v) for v in values):
                    missing.append(f"{title}: {concrete(expr)} -> {result}")
            assert not missing, "queries without data:\n" + "\n".join(missing)

            for variable in load_dashboard()["templating"]["list"]:
                match = re.fullmatch(r"label_values\((\w+), (\w+)\)", variable.get("definition", ""))
                if match:
                    values = await prom.label_values(session, match.group(2), match.group(1))
                    assert values, f"variable {variable['name']} has no values"
        finally:
            prom.stop()
    assert prom.process.returncode in (0, -signal.SIGTERM), prom.log.read_text()[-2000:]


async def _up(prom: PrometheusProcess, session: aiohttp.ClientSession) -> bool:
    if prom.process.poll() is not None:
        raise AssertionError(f"prometheus exited: {prom.log.read_text()[-2000:]}")
    result = await prom.query(session, f'up{{job="{JOB}"}} == 1')
    return bool(result)


async def test_gateway_writes_one_redacted_json_access_line_per_request(gateway: Gateway) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        headers = {"X-Request-Id": "ops-e2e-1", "Authorization": f"Bearer {SECRET}", "x-goog-api-key": SECRET}
        async with session.get(f"{gateway.url}/v1beta/models?key={SECRET}&alt=sse", headers=headers) as resp:
            assert resp.status == 200
            assert resp.headers["X-Request-Id"] == "ops-e2e-1"
        async with session.get(f"{gateway.url}/ops/boom", headers={"X-Request-Id": "ops-e2e-boom"}) as resp:
            assert resp.status == 500
        async with session.get(f"{gateway.url}/ops/fail") as resp:
            assert resp.status == 503
            generated = resp.headers["X-Request-Id"]
    gateway.stop()
    output = gateway.output()
    # stdout is a file here, not a terminal: every line is a JSON object.
    records = [json.loads(line) for line in output.splitlines() if line.strip()]
    access = {r["request_id"]: r for r in records if r["event"] == "access"}
    fields = ("logger", "method", "path", "status", "level", "route", "mode", "side", "peer")
    assert [access["ops-e2e-1"][k] for k in fields] == [
        "quotio_gateway.access", "GET", "/v1beta/models?key=***&alt=sse", 200, "info", "(default)", "legacy",
        "legacy", "127.0.0.1"]
    assert [access["ops-e2e-boom"][k] for k in ("path", "status", "level", "route", "mode", "side")] == [
        "/ops/boom", 500, "error", "GET /ops/boom", "native", "native"]
    assert generated not in ("", "ops-e2e-1", "ops-e2e-boom")
    assert [access[generated][k] for k in ("path", "status", "level")] == ["/ops/fail", 503, "error"]
    [raised] = [r for r in records if r["event"] == "native handler raised"]
    assert raised["request_id"] == "ops-e2e-boom"
    assert "RuntimeError: fault injected" in raised["exception"]
    assert SECRET not in output
