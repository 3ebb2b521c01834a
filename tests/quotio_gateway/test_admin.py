"""The gateway's own endpoints: /healthz, /metrics, /v0/gateway/{status,flags,flags/audit}."""

from __future__ import annotations

import yaml

from quotio_gateway import appkeys
from tests.conftest import ScriptedLegacy, auth, eventually

FLAGS = {"routes": [{"match": "GET /v1/models", "mode": "legacy"}]}


async def test_healthz_needs_no_key(make_gateway, aiohttp_client):
    client = await aiohttp_client(await make_gateway({}))
    resp = await client.get("/healthz")
    assert resp.status == 200 and await resp.json() == {"status": "ok"}


async def test_status_reports_table_legacy_and_uptime(legacy, make_gateway, aiohttp_client):
    client = await aiohttp_client(await make_gateway({"legacy": {"url": legacy.url}, **FLAGS}))
    resp = await client.get("/v0/gateway/status", headers=auth())
    body = await resp.json()
    assert resp.status == 200
    assert body["flags"]["version"] == 1 and body["flags"]["routes"] == 1
    assert body["legacy"]["configured"] is True and body["legacy"]["url"] == legacy.url
    assert body["uptime_seconds"] >= 0


async def test_flags_api_requires_the_management_key(make_gateway, aiohttp_client):
    client = await aiohttp_client(await make_gateway(FLAGS))
    resp = await client.put("/v0/gateway/flags", json={"default": "native"})
    assert resp.status == 401 and await resp.json() == {"error": "missing management key"}
    resp = await client.put("/v0/gateway/flags", json={"default": "native"}, headers=auth("wrong"))
    assert resp.status == 401 and await resp.json() == {"error": "invalid management key"}
    resp = await client.get("/v0/gateway/flags", headers=auth())
    assert (await resp.json())["default"] == "legacy"


async def test_put_patch_audit_roundtrip(make_gateway, aiohttp_client, tmp_path):
    app = await make_gateway(FLAGS)
    client = await aiohttp_client(app)
    doc = await (await client.get("/v0/gateway/flags", headers=auth())).json()
    doc["routes"][0]["mode"] = "shadow"
    resp = await client.put("/v0/gateway/flags", json=doc, headers=auth())
    assert resp.status == 200 and (await resp.json())["version"] == 2
    resp = await client.patch("/v0/gateway/flags", json={"match": "GET /v1/models", "mode": "canary",
                                                           "percent": 5}, headers=auth())
    assert resp.status == 200 and resp.headers["X-Quotio-Flags-Version"] == "3"
    on_disk = yaml.safe_load((tmp_path / "flags.yaml").read_text())
    assert on_disk["routes"][0]["mode"] == "canary" and on_disk["routes"][0]["percent"] == 5
    audit = (await (await client.get("/v0/gateway/flags/audit", headers=auth())).json())["entries"]
    assert [e["version"] for e in audit] == [3, 2, 1]
    assert audit[0]["actor"].startswith("key:") and "s3cret" not in str(audit)
    assert audit[0]["changes"][0]["old"]["mode"] == "shadow" and audit[0]["changes"][0]["new"]["mode"] == "canary"
    metrics = app[appkeys.METRICS].registry
    assert metrics.get_sample_value("quotio_gateway_route_mode", {"route": "GET /v1/models", "mode": "canary"}) == 1


async def test_bad_changes_are_400_and_keep_the_old_table(make_gateway, aiohttp_client, tmp_path):
    app = await make_gateway(FLAGS)
    client = await aiohttp_client(app)
    before = (tmp_path / "flags.yaml").read_bytes()
    cases = [
        ("PUT", {"default": "turbo"}, "default"),
        ("PUT", {"routes": [{"match": "GET /x", "mode": "canary", "percent": 101}]}, "routes.0.percent"),
        ("PATCH", {"match": "GET /v1/models", "mode": "canary", "percent": -3}, "routes.0.percent"),
        ("PATCH", {"mode": "native"}, "match"),
        # A match that is no route: the 400 a PUT gives, not an unhandled error.
        ("PATCH", {"match": "FOO /x", "mode": "native"}, "match"),
        ("PATCH", {"match": 5, "mode": "native"}, "match"),
        ("PATCH", {"match": "GET nopath", "remove": True}, "match"),
    ]
    for method, body, key in cases:
        resp = await client.request(method, "/v0/gateway/flags", json=body, headers=auth())
        assert resp.status == 400, body
        answer = await resp.json()
        assert answer["error"] == "invalid flags" and answer["key"] == key and answer["message"]
    resp = await client.put("/v0/gateway/flags", data=b"{not json", headers=auth())
    assert resp.status == 400 and "invalid JSON" in (await resp.json())["message"]
    assert app[appkeys.FLAG_STORE].current.version == 1
    assert (tmp_path / "flags.yaml").read_bytes() == before


async def test_metrics_exposition(legacy, make_gateway, aiohttp_client):
    client = await aiohttp_client(await make_gateway({"legacy": {"url": legacy.url}, **FLAGS}))
    await client.get("/v1/models")
    text = await (await client.get("/metrics")).text()
    assert 'quotio_gateway_requests_total{mode="legacy",route="GET /v1/models",side="legacy",status="200"} 1.0' in text
    assert 'quotio_gateway_route_mode{mode="legacy",route="GET /v1/models"} 1.0' in text
    assert "quotio_gateway_build_info" in text
    assert "quotio_gateway_time_to_first_byte_seconds_bucket" in text


async def test_a_new_legacy_url_applies_without_a_restart(legacy, make_gateway, aiohttp_client):
    """The legacy section is part of the table: a PUT moving legacy to another server sends the
    next requests there, and the status and health follow it."""
    second = ScriptedLegacy()
    await second.start()
    try:
        app = await make_gateway({"legacy": {"url": legacy.url}, "default": "legacy"})
        client = await aiohttp_client(app)
        assert (await client.get("/echo?n=1")).status == 200
        assert legacy.calls[-1]["path"] == "/echo?n=1"
        doc = await (await client.get("/v0/gateway/flags", headers=auth())).json()
        doc["legacy"]["url"] = second.url
        resp = await client.put("/v0/gateway/flags", json=doc, headers=auth())
        assert resp.status == 200
        assert (await client.get("/echo?n=2")).status == 200
        assert [c["path"] for c in second.calls] == ["/echo?n=2"]
        assert "/echo?n=2" not in [c["path"] for c in legacy.calls]
        status = await (await client.get("/v0/gateway/status", headers=auth())).json()
        assert status["legacy"]["url"] == second.url
        await eventually(lambda: app[appkeys.LEGACY].health is not None
                         and app[appkeys.LEGACY].health.url == second.url)
    finally:
        await second.stop()
