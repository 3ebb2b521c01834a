import asyncio

import pytest
import yaml

from quotio_gateway.flags.audit import FlagAudit
from quotio_gateway.flags.loader import FlagsError, load_flags_file
from quotio_gateway.flags.schema import FlagTable, Mode
from quotio_gateway.flags.store import FlagStore
from quotio_gateway.metrics import Metrics
from quotio_gateway.state import StateDB

BASE = {"default": "legacy", "routes": [{"match": "GET /v1/models", "mode": "legacy"}]}


@pytest.fixture
async def db(tmp_path):
    state = StateDB(tmp_path / "state.sqlite3")
    await state.open()
    yield state
    await state.close()


async def make_store(tmp_path, db, doc=BASE, watch=True):
    path = tmp_path / "flags.yaml"
    path.write_text(yaml.safe_dump(doc))
    metrics = Metrics()
    store = FlagStore(load_flags_file(path), path=path if watch else None, persist_path=path,
                      audit=FlagAudit(db), metrics=metrics)
    await store.start()
    return store, path, metrics


def gauge(metrics, name, **labels):
    return metrics.registry.get_sample_value(name, labels)


async def test_start_audits_once_and_publishes_modes(tmp_path, db):
    store, _, metrics = await make_store(tmp_path, db)
    await store.stop()
    assert store.current.version == 1
    assert gauge(metrics, "quotio_gateway_route_mode", route="GET /v1/models", mode="legacy") == 1
    assert gauge(metrics, "quotio_gateway_route_mode", route="GET /v1/models", mode="native") == 0
    again, _, _ = await make_store(tmp_path, db)
    await again.stop()
    assert again.current.version == 1  # same table after a restart: no new version, no new audit row
    assert len(await again.audit.entries()) == 1


async def test_patch_changes_one_route_audits_and_persists(tmp_path, db):
    store, path, metrics = await make_store(tmp_path, db, watch=False)
    old = store.current
    new = await store.patch_route({"match": "get /v1/models", "mode": "native"}, actor="key:abc")
    assert old.match("GET", "/v1/models").decision.mode is Mode.LEGACY  # in-flight keep the old table
    assert new.match("GET", "/v1/models").decision.mode is Mode.NATIVE
    assert new.version == old.version + 1
    assert load_flags_file(path).routes[0].mode is Mode.NATIVE
    entry = (await store.audit.entries())[0]
    assert entry["actor"] == "key:abc" and entry["source"] == "api" and entry["version"] == new.version
    assert entry["changes"] == [{"item": "route GET /v1/models",
                                 "old": {"match": "GET /v1/models", "mode": "legacy", "model": None, "percent": 0.0,
                                         "sample": 1.0, "fallback_to_legacy": False, "shadow_llm": False},
                                 "new": {"match": "GET /v1/models", "mode": "native", "model": None, "percent": 0.0,
                                         "sample": 1.0, "fallback_to_legacy": False, "shadow_llm": False}}]
    assert gauge(metrics, "quotio_gateway_flags_version") == new.version


async def test_patch_adds_and_removes_routes(tmp_path, db):
    store, _, _ = await make_store(tmp_path, db, watch=False)
    await store.patch_route({"match": "POST /v1/messages", "mode": "canary", "percent": 10}, actor="t")
    assert store.current.match("POST", "/v1/messages").decision.mode is Mode.CANARY
    await store.patch_route({"match": "POST /v1/messages", "remove": True}, actor="t")
    assert store.current.match("POST", "/v1/messages").decision.label == "(default)"
    with pytest.raises(FlagsError, match="no route"):
        await store.patch_route({"match": "POST /v1/messages", "remove": True}, actor="t")


async def test_patched_model_route_goes_above_its_catch_all(tmp_path, db):
    doc = {"default": "legacy", "routes": [{"match": "POST /v1/messages", "mode": "legacy"},
                                           {"match": "GET /v1/models", "mode": "legacy"}]}
    store, _, _ = await make_store(tmp_path, db, doc=doc, watch=False)
    await store.patch_route({"match": "POST /v1/messages", "model": "claude-*", "mode": "native"}, actor="t")
    assert [(r.match, r.model) for r in store.current.table.routes] == [
        ("POST /v1/messages", "claude-*"), ("POST /v1/messages", None), ("GET /v1/models", None)]
    table = store.current
    assert table.match("POST", "/v1/messages", "claude-opus-4", model_known=True).decision.mode is Mode.NATIVE
    assert table.match("POST", "/v1/messages", "gpt-5", model_known=True).decision.mode is Mode.LEGACY
    # A route without a model still goes to the end; changing a listed one keeps its place.
    await store.patch_route({"match": "POST /v1/chat/completions", "mode": "native"}, actor="t")
    await store.patch_route({"match": "POST /v1/messages", "model": "claude-*", "mode": "shadow"}, actor="t")
    assert [(r.match, r.model, r.mode.value) for r in store.current.table.routes] == [
        ("POST /v1/messages", "claude-*", "shadow"), ("POST /v1/messages", None, "legacy"),
        ("GET /v1/models", None, "legacy"), ("POST /v1/chat/completions", None, "native")]


@pytest.mark.parametrize("patch", [
    {"mode": "native"},
    {"match": "GET /v1/models", "mode": "warp"},
    {"match": "GET /v1/models", "mode": "canary", "percent": 150},
    ["not", "a", "mapping"],
])
async def test_bad_patch_keeps_the_old_table_and_file(tmp_path, db, patch):
    store, path, _ = await make_store(tmp_path, db, watch=False)
    before_file = path.read_bytes()
    before = store.current
    with pytest.raises(FlagsError):
        await store.patch_route(patch, actor="t")
    assert store.current is before
    assert path.read_bytes() == before_file
    assert len(await store.audit.entries()) == 1


async def test_replace_with_invalid_document_is_rejected(tmp_path, db):
    store, _, _ = await make_store(tmp_path, db, watch=False)
    before = store.current
    with pytest.raises(FlagsError):
        await store.replace_document({"default": "nope"}, actor="t")
    assert store.current is before


async def test_file_edit_reloads_and_bad_edit_keeps_last_good(tmp_path, db):
    store, path, metrics = await make_store(tmp_path, db)
    try:
        path.write_text(yaml.safe_dump({**BASE, "default": "shadow"}))
        for _ in range(40):
            await asyncio.sleep(0.1)
            if store.current.table.default is Mode.SHADOW:
                break
        assert store.current.table.default is Mode.SHADOW
        good = store.current
        path.write_text("default: [broken\n")
        for _ in range(40):
            await asyncio.sleep(0.1)
            if store.last_error:
                break
        assert store.current is good
        assert "invalid flags" in store.last_error
        assert gauge(metrics, "quotio_gateway_config_reloads_total", file="flags", result="failure") == 1
        assert gauge(metrics, "quotio_gateway_config_reloads_total", file="flags", result="success") == 1
        entries = await store.audit.entries()
        assert entries[0]["source"] == "file" and entries[0]["actor"].startswith("file:")
    finally:
        await store.stop()


async def test_api_write_does_not_echo_back_as_a_file_reload(tmp_path, db):
    store, _, _ = await make_store(tmp_path, db)
    try:
        await store.patch_route({"match": "GET /v1/models", "mode": "shadow"}, actor="t")
        await asyncio.sleep(0.8)
        assert [e["source"] for e in await store.audit.entries()] == ["api", "startup"]
    finally:
        await store.stop()


async def test_kill_during_persist_leaves_old_file_whole(tmp_path, db, monkeypatch):
    store, path, _ = await make_store(tmp_path, db, watch=False)
    before = path.read_bytes()

    def crash(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", crash)
    with pytest.raises(OSError):
        await store.patch_route({"match": "GET /v1/models", "mode": "native"}, actor="t")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert store.current.table == FlagTable.model_validate(BASE)
