"""/v0/management/auth-files on the whole gateway, from its own credential services
(auth_files.go: ListAuthFiles, GetAuthFileModels, DownloadAuthFile, UploadAuthFile, DeleteAuthFile)."""

from __future__ import annotations

import hashlib
import json

import aiohttp

from handlers.inference.runtime import INFERENCE
from handlers.providers.base import UpstreamError
from handlers.rotation.conductor import RetrySettings, mark_result
from tests.handlers.credentials.auth_files_gateway import CLAUDE, Gateway
from tests.handlers.logins.test_vertex_import import service_account


def index(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:16]


async def test_list_has_every_file_and_gemini_projects_as_runtime_only_entries(gateway: Gateway) -> None:
    files = await gateway.files()
    assert [f["name"] for f in files] == [
        "claude-ann@example.com.json", "codex-cy@example.com.json", "gemini-bob@example.com-all.json",
        "gemini-bob@example.com-all.json::p1", "gemini-bob@example.com-all.json::p2"]
    claude = files[0]
    assert list(claude) == sorted(claude)  # gin.H: keys sorted
    path = gateway.auths / "claude-ann@example.com.json"
    assert {k: claude[k] for k in ("id", "auth_index", "type", "provider", "label", "status", "status_message",
                                   "disabled", "unavailable", "runtime_only", "source", "size", "email",
                                   "account_type", "account", "path")} == {
        "id": "claude-ann@example.com.json", "auth_index": index("file:claude-ann@example.com.json"),
        "type": "claude", "provider": "claude", "label": "ann@example.com", "status": "active",
        "status_message": "", "disabled": False, "unavailable": False, "runtime_only": False,
        "source": "file", "size": path.stat().st_size, "email": "ann@example.com", "account_type": "oauth",
        "account": "ann@example.com", "path": str(path)}
    assert claude["last_refresh"].startswith("2026-01-20T")
    assert isinstance(claude["modtime"], str) and isinstance(claude["created_at"], str)
    assert files[1]["id_token"] == {"chatgpt_account_id": "acct-1", "plan_type": "plus"}
    primary, p1 = files[2], files[3]
    assert (primary["provider"], primary["disabled"], primary["status"]) == ("gemini-cli", True, "disabled")
    assert primary["account"] == "bob@example.com (p1,p2)"
    assert (p1["runtime_only"], p1["label"], p1["account"]) == (True, "bob@example.com [p1]", "bob@example.com (p1)")
    assert p1["auth_index"] == index("id:gemini-bob@example.com-all.json::p1")


async def test_models_download_and_bad_names(gateway: Gateway) -> None:
    status, _, body = await gateway.call("GET", "auth-files/models", params={"name": "claude-ann@example.com.json"})
    models = json.loads(body)["models"]
    assert status == 200 and models and all("id" in m for m in models)
    status, _, body = await gateway.call("GET", "auth-files/models", params={"name": "nobody.json"})
    assert (status, body) == (200, b'{"models":[]}')
    status, _, body = await gateway.call("GET", "auth-files/models")
    assert (status, body) == (400, b'{"error":"name is required"}')
    status, headers, body = await gateway.call("GET", "auth-files/download",
                                               params={"name": "claude-ann@example.com.json"})
    assert status == 200 and json.loads(body) == CLAUDE
    assert headers["Content-Type"] == "application/json"
    assert headers["Content-Disposition"] == 'attachment; filename="claude-ann@example.com.json"'
    for name, answer in (("", (400, b'{"error":"invalid name"}')), ("a/b.json", (400, b'{"error":"invalid name"}')),
                         ("x.txt", (400, b'{"error":"name must end with .json"}')),
                         ("none.json", (404, b'{"error":"file not found"}'))):
        status, _, body = await gateway.call("GET", "auth-files/download", params={"name": name})
        assert (status, body) == answer, name


async def test_upload_raw_and_multipart_then_delete_one_and_all(gateway: Gateway) -> None:
    new = {"type": "claude", "email": "dee@example.com", "access_token": "at-dee", "expired": "2099-01-01T00:00:00Z"}
    status, _, body = await gateway.call("POST", "auth-files", params={"name": "claude-dee@example.com.json"},
                                         data=json.dumps(new).encode())
    assert (status, body) == (200, b'{"status":"ok"}')
    stored = gateway.auths / "claude-dee@example.com.json"
    assert json.loads(stored.read_bytes()) == new and stored.stat().st_mode & 0o777 == 0o600
    form = aiohttp.FormData()
    form.add_field("file", json.dumps({**new, "email": "eve@example.com"}), filename="claude-eve.json")
    assert (await gateway.call("POST", "auth-files", data=form))[0] == 200
    assert (gateway.auths / "claude-eve.json").exists()
    names = [f["name"] for f in await gateway.files()]
    assert {"claude-dee@example.com.json", "claude-eve.json"} <= set(names)
    bad_form = aiohttp.FormData()
    bad_form.add_field("file", "{}", filename="x.txt")
    assert (await gateway.call("POST", "auth-files", data=bad_form))[2] == b'{"error":"file must be .json"}'
    status, _, body = await gateway.call("POST", "auth-files", params={"name": "bad.json"}, data=b"[1]")
    assert status == 500 and body.startswith(b'{"error":"invalid auth file: ')
    assert not (gateway.auths / "bad.json").exists()
    status, _, body = await gateway.call("DELETE", "auth-files", params={"name": "claude-eve.json"})
    assert (status, body) == (200, b'{"status":"ok"}')
    assert not (gateway.auths / "claude-eve.json").exists()
    status, _, body = await gateway.call("DELETE", "auth-files", params={"name": "claude-eve.json"})
    assert (status, body) == (404, b'{"error":"file not found"}')
    (gateway.auths / "broken.json").write_text("{not json")
    status, _, body = await gateway.call("DELETE", "auth-files", params={"all": "true"})
    assert (status, json.loads(body)) == (200, {"deleted": 5, "status": "ok"})
    assert sorted(p.name for p in gateway.auths.glob("*.json")) == []
    assert await gateway.files() == []


async def test_vertex_import_saves_the_key_and_answers_as_the_legacy(gateway: Gateway) -> None:
    def form(data: str | None, **fields: str) -> aiohttp.FormData:
        out = aiohttp.FormData()
        for name, value in fields.items():
            out.add_field(name, value)
        if data is not None:
            out.add_field("file", data, filename="key.json", content_type="application/json")
        return out

    status, _, body = await gateway.call("POST", "vertex/import", data=form(json.dumps(service_account()),
                                                                           location="europe-west4"))
    path = gateway.auths / "vertex-my-proj_eu-west.json"
    assert status == 200
    assert json.loads(body) == {"auth-file": str(path), "email": "sa@my-proj.iam.gserviceaccount.com",
                                "location": "europe-west4", "project_id": "my-proj:eu west", "status": "ok"}
    assert list(json.loads(body)) == ["auth-file", "email", "location", "project_id", "status"]
    stored = json.loads(path.read_bytes())
    assert (stored["type"], stored["location"], stored["project_id"]) == ("vertex", "europe-west4", "my-proj:eu west")
    assert "vertex-my-proj_eu-west.json" in [f["name"] for f in await gateway.files()]
    status, _, body = await gateway.call("POST", "vertex/import", params={"location": "asia-east1"},
                                         data=form(json.dumps(service_account(project_id="p2"))))
    assert status == 200 and json.loads(body)["location"] == "asia-east1"
    for data, answer in ((None, {"error": "file required"}),
                         ("{not json", None),
                         (json.dumps(service_account(private_key=None)),
                          {"error": "invalid service account", "message": "service account missing private_key"}),
                         (json.dumps(service_account(project_id=None)), {"error": "project_id missing"})):
        status, _, body = await gateway.call("POST", "vertex/import", data=form(data))
        assert status == 400, data
        if answer is None:
            assert json.loads(body)["error"] == "invalid json" and "message" in json.loads(body)
        else:
            assert json.loads(body) == answer
    assert sorted(p.name for p in gateway.auths.glob("vertex-*.json")) == ["vertex-my-proj_eu-west.json",
                                                                          "vertex-p2.json"]


async def test_a_failing_credential_shows_the_upstream_error_as_status_message(gateway: Gateway) -> None:
    app_state = gateway.app[INFERENCE].state
    body = b'{"type":"error","error":{"type":"api_error","message":"Internal server error"}}'
    mark_result(app_state, "claude-ann@example.com.json", "claude-sonnet-4-5-20250929",
                UpstreamError("transient", 503, body), RetrySettings())
    claude = next(f for f in await gateway.files() if f["name"] == "claude-ann@example.com.json")
    assert (claude["status"], claude["status_message"], claude["unavailable"]) == ("error", body.decode(), True)
    mark_result(app_state, "claude-ann@example.com.json", "claude-sonnet-4-5-20250929", None, RetrySettings())
    claude = next(f for f in await gateway.files() if f["name"] == "claude-ann@example.com.json")
    assert (claude["status"], claude["status_message"], claude["unavailable"]) == ("active", "", False)


async def test_unavailable_is_the_auth_aggregate_of_its_last_result(gateway: Gateway) -> None:
    # auth.Unavailable comes from updateAggregatedAvailability at each MarkResult
    # (conductor.go:1435-1482): a model that succeeded keeps the auth available while another
    # cools, and a cooldown that ran out does not clear the flag before the next result.
    app_state = gateway.app[INFERENCE].state
    name = "claude-ann@example.com.json"
    body = b'{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}'

    async def entry() -> tuple[str, bool]:
        claude = next(f for f in await gateway.files() if f["name"] == name)
        return claude["status"], claude["unavailable"]

    mark_result(app_state, name, "claude-haiku-4-5-20251001", None, RetrySettings())
    mark_result(app_state, name, "claude-sonnet-4-5-20250929", UpstreamError("credential", 401, body), RetrySettings())
    assert await entry() == ("error", False)
    mark_result(app_state, name, "claude-haiku-4-5-20251001", UpstreamError("transient", 503, b"busy"),
                RetrySettings())
    assert await entry() == ("error", True)
    now = app_state.clock
    app_state.clock = lambda: now() + 3600  # every cooldown has run out; no result since
    assert await entry() == ("error", True)


async def test_vertex_import_takes_the_key_as_a_raw_json_body_as_quotio_sends_it(gateway: Gateway) -> None:
    """The app posts the key file's bytes with Content-Type: application/json (contract §1.1 #34)."""
    raw = json.dumps(service_account()).encode()
    status, _, body = await gateway.call("POST", "vertex/import", params={"location": "europe-west4"}, data=raw,
                                         headers={"Content-Type": "application/json"})
    path = gateway.auths / "vertex-my-proj_eu-west.json"
    assert (status, json.loads(body)) == (200, {"auth-file": str(path), "email": "sa@my-proj.iam.gserviceaccount.com",
                                                "location": "europe-west4", "project_id": "my-proj:eu west",
                                                "status": "ok"})
    assert json.loads(path.read_bytes())["type"] == "vertex"
    # The legacy's answers for what is not a usable key; nothing more is written.
    for data, content_type, answer in (
            (b"", "application/json", {"error": "file required"}),
            (raw, "text/plain", {"error": "file required"}),
            (json.dumps(service_account(project_id="p3", private_key=None)).encode(), "application/json",
             {"error": "invalid service account", "message": "service account missing private_key"}),
            (json.dumps(service_account(project_id=None)).encode(), "application/json",
             {"error": "project_id missing"})):
        status, _, body = await gateway.call("POST", "vertex/import", data=data, headers={"Content-Type": content_type})
        assert (status, json.loads(body)) == (400, answer), (data, content_type)
    status, _, body = await gateway.call("POST", "vertex/import", data=b"{not json",
                                         headers={"Content-Type": "application/json"})
    assert status == 400 and json.loads(body)["error"] == "invalid json"
    assert [p.name for p in gateway.auths.glob("vertex-*.json")] == ["vertex-my-proj_eu-west.json"]
