"""List settings: api-keys, provider credential lists, oauth-excluded-models; answers and YAML."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import yaml

from quotio_gateway.management.config_lists import go_sscanf_int

from .conftest import CONFIG_YAML, MakeHarness

OK = b'{"status":"ok"}'


async def get_json(h: Any, path: str) -> Any:
    response = await h.call("GET", path)
    assert response.status == 200
    return await response.json()


async def expect(h: Any, method: str, path: str, status: int, answer: bytes, **kwargs: Any) -> None:
    response = await h.call(method, path, **kwargs)
    assert (response.status, await response.read()) == (status, answer)


def disk(h: Any) -> dict[str, Any]:
    return yaml.safe_load(h.text())


def assert_comments_kept(text: str) -> None:
    for comment in ("# quotio test config", "# who may manage", "# inline comment", "# routing section"):
        assert comment in text


# --- api-keys (§10 14-16, Quotio rows 7 and 16) --------------------------------------------------


async def test_api_keys_put_forms(make_harness: MakeHarness) -> None:
    h = await make_harness()
    assert await (await h.call("GET", "api-keys")).read() == b'{"api-keys":["k1"]}'
    await expect(h, "PUT", "api-keys", 200, OK, json=["a", "b"])
    assert await get_json(h, "api-keys") == {"api-keys": ["a", "b"]}
    assert disk(h)["api-keys"] == ["a", "b"]
    await expect(h, "PUT", "api-keys", 400, b'{"error":"invalid body"}', json={"items": []})
    await expect(h, "PUT", "api-keys", 200, OK, json={"items": ["x"]})
    assert await get_json(h, "api-keys") == {"api-keys": ["x"]}
    await expect(h, "PUT", "api-keys", 200, OK, json=[])
    # Quotio row 7: the list must decode as [String], never null.
    assert await (await h.call("GET", "api-keys")).read() == b'{"api-keys":[]}'
    assert disk(h)["api-keys"] == []
    assert_comments_kept(h.text())


@pytest.mark.parametrize("body", [b'{"items":"a"}', b'["a",1]', b"{}", b"", b'"a"', b'["a"] x'])
async def test_api_keys_put_rejects(make_harness: MakeHarness, body: bytes) -> None:
    h = await make_harness()
    await expect(h, "PUT", "api-keys", 400, b'{"error":"invalid body"}', body=body)
    assert disk(h)["api-keys"] == ["k1"]


async def test_api_keys_patch(make_harness: MakeHarness) -> None:
    h = await make_harness()
    await expect(h, "PUT", "api-keys", 200, OK, json=["a", "b"])
    await expect(h, "PATCH", "api-keys", 200, OK, json={"old": "zzz", "new": "c"})
    assert await get_json(h, "api-keys") == {"api-keys": ["a", "b", "c"]}
    await expect(h, "PATCH", "api-keys", 200, OK, json={"index": 0, "value": "A"})
    assert await get_json(h, "api-keys") == {"api-keys": ["A", "b", "c"]}
    await expect(h, "PATCH", "api-keys", 200, OK, json={"old": "b", "new": "B"})
    assert await get_json(h, "api-keys") == {"api-keys": ["A", "B", "c"]}
    await expect(h, "PATCH", "api-keys", 400, b'{"error":"missing fields"}', json={})
    await expect(h, "PATCH", "api-keys", 400, b'{"error":"missing fields"}', json={"index": 7, "value": "q"})
    await expect(h, "PATCH", "api-keys", 400, b'{"error":"invalid body"}', json={"index": "0", "value": "q"})
    await expect(h, "PATCH", "api-keys", 400, b'{"error":"invalid body"}', body=b"[")
    assert disk(h)["api-keys"] == ["A", "B", "c"]


async def test_api_keys_delete(make_harness: MakeHarness) -> None:
    h = await make_harness()
    await expect(h, "PUT", "api-keys", 200, OK, json=["a", " b ", "c", "b"])
    await expect(h, "DELETE", "api-keys", 400, b'{"error":"missing index or value"}', params={"index": "9"})
    await expect(h, "DELETE", "api-keys", 400, b'{"error":"missing index or value"}')
    await expect(h, "DELETE", "api-keys", 200, OK, params={"value": "b"})
    assert await get_json(h, "api-keys") == {"api-keys": ["a", "c"]}  # trimmed comparison
    await expect(h, "DELETE", "api-keys", 200, OK, params={"value": "nothing-matches"})
    await expect(h, "DELETE", "api-keys", 200, OK, params={"index": " 1xyz"})  # Sscanf("%d") reads 1
    assert await get_json(h, "api-keys") == {"api-keys": ["a"]}
    await expect(h, "DELETE", "api-keys", 200, OK, params={"index": "0"})
    assert await get_json(h, "api-keys") == {"api-keys": []}


async def test_query_values_are_read_as_go_reads_them(make_harness: MakeHarness) -> None:
    # url.ParseQuery drops a pair holding ";", so Gin's c.Query finds no value (net/url parseQuery).
    h = await make_harness()
    await expect(h, "PUT", "api-keys", 200, OK, json=["k1;x", "k2"])
    await expect(h, "DELETE", "api-keys?value=k1;x", 400, b'{"error":"missing index or value"}')
    await expect(h, "DELETE", "oauth-excluded-models?provider=a;b", 400, b'{"error":"missing provider"}')
    assert await get_json(h, "api-keys") == {"api-keys": ["k1;x", "k2"]}


async def test_quotio_api_key_flow(make_harness: MakeHarness) -> None:
    # Row 16: PUT full list, PATCH old/new, DELETE ?value= with .urlQueryAllowed encoding.
    h = await make_harness()
    headers = {"Authorization": "Bearer s3cret", "Content-Type": "application/json", "Connection": "close"}
    assert (await h.call("PUT", "api-keys", body=b'["k1","k2"]', headers=headers)).status == 200
    assert (await h.call("PATCH", "api-keys", body=b'{"old":"k1","new":"k3"}', headers=headers)).status == 200
    assert await get_json(h, "api-keys") == {"api-keys": ["k3", "k2"]}
    response = await h.call("DELETE", "/v0/management/api-keys?value=k3", headers=headers)
    assert response.status == 200
    assert await get_json(h, "api-keys") == {"api-keys": ["k2"]}


# --- gemini-api-key (§10 17-18) -------------------------------------------------------------------

GEMINI = [{"api-key": " g1 ", "prefix": "/team/", "headers": {" X-A ": " 1 ", "X-B": " "},
           "excluded-models": [" M1 ", "m1", ""]},
          {"api-key": "g1", "base-url": "https://dup"},
          {"api-key": "  "},
          {"api-key": "g2", "models": [{"name": "n", "alias": "a"}]}]


async def test_gemini_put_sanitizes(make_harness: MakeHarness) -> None:
    h = await make_harness()
    await expect(h, "PUT", "gemini-api-key", 200, OK, json=GEMINI)
    assert await (await h.call("GET", "gemini-api-key")).read() == (
        b'{"gemini-api-key":[{"api-key":"g1","prefix":"team","headers":{"X-A":"1"},"excluded-models":["m1"]},'
        b'{"api-key":"g2","models":[{"name":"n","alias":"a"}]}]}')
    assert [e["api-key"] for e in disk(h)["gemini-api-key"]] == ["g1", "g2"]
    assert_comments_kept(h.text())


async def test_gemini_patch(make_harness: MakeHarness) -> None:
    h = await make_harness()
    await expect(h, "PUT", "gemini-api-key", 200, OK, json=GEMINI)
    await expect(h, "PATCH", "gemini-api-key", 404, b'{"error":"item not found"}',
                 json={"match": "nope", "value": {"prefix": "x"}})
    await expect(h, "PATCH", "gemini-api-key", 404, b'{"error":"item not found"}',
                 json={"match": "", "value": {"prefix": "x"}})
    await expect(h, "PATCH", "gemini-api-key", 400, b'{"error":"invalid body"}', json={"index": 0})
    await expect(h, "PATCH", "gemini-api-key", 200, OK,
                 json={"match": " g2 ", "value": {"base-url": " https://b ", "headers": {"H": "v"}}})
    entries = (await get_json(h, "gemini-api-key"))["gemini-api-key"]
    assert entries[1] == {"api-key": "g2", "base-url": "https://b", "models": [{"name": "n", "alias": "a"}],
                          "headers": {"H": "v"}}
    await expect(h, "PATCH", "gemini-api-key", 200, OK, json={"index": 0, "value": {"api-key": "  "}})
    assert [e["api-key"] for e in (await get_json(h, "gemini-api-key"))["gemini-api-key"]] == ["g2"]
    assert disk(h)["gemini-api-key"][0]["base-url"] == "https://b"


async def test_gemini_delete(make_harness: MakeHarness) -> None:
    h = await make_harness()
    await expect(h, "PUT", "gemini-api-key", 200, OK, json=GEMINI)
    await expect(h, "DELETE", "gemini-api-key", 404, b'{"error":"item not found"}', params={"api-key": "unknown"})
    await expect(h, "DELETE", "gemini-api-key", 400, b'{"error":"missing api-key or index"}')
    await expect(h, "DELETE", "gemini-api-key", 200, OK, params={"api-key": " g1 "})
    await expect(h, "DELETE", "gemini-api-key", 200, OK, params={"index": "0"})
    assert await get_json(h, "gemini-api-key") == {"gemini-api-key": []}
    assert disk(h)["gemini-api-key"] == []


# --- claude-api-key -----------------------------------------------------------------------------


async def test_claude_list(make_harness: MakeHarness) -> None:
    h = await make_harness()
    body = {"items": [{"api-key": " c1 ", "base-url": " https://c ", "prefix": "p/q",
                       "models": [{"name": " m ", "alias": ""}, {"name": " ", "alias": ""}],
                       "cloak": {"mode": "always", "strict-mode": True}},
                      {"api-key": "c2"}]}
    await expect(h, "PUT", "claude-api-key", 200, OK, json=body)
    # A nil models slice is written as "models: []" and the store serves the reloaded file, as
    # legacy does once its watcher has reloaded: [] rather than null.
    assert await (await h.call("GET", "claude-api-key")).read() == (
        b'{"claude-api-key":[{"api-key":"c1","base-url":"https://c","proxy-url":"",'
        b'"models":[{"name":"m","alias":""}],"cloak":{"mode":"always","strict-mode":true}},'
        b'{"api-key":"c2","base-url":"","proxy-url":"","models":[]}]}')
    # A blank api-key in a patch is stored, not a delete; a blank match finds that entry.
    await expect(h, "PATCH", "claude-api-key", 200, OK, json={"match": "c2", "value": {"api-key": " "}})
    await expect(h, "PATCH", "claude-api-key", 200, OK,
                 json={"match": "", "value": {"models": [{"name": "x", "alias": "y"}], "proxy-url": " p "}})
    entries = (await get_json(h, "claude-api-key"))["claude-api-key"]
    assert entries[1] == {"api-key": "", "base-url": "", "proxy-url": "p", "models": [{"name": "x", "alias": "y"}]}
    await expect(h, "DELETE", "claude-api-key", 200, OK, params={"api-key": "unknown"})
    await expect(h, "DELETE", "claude-api-key", 200, OK, params={"api-key": "c1"})
    assert len((await get_json(h, "claude-api-key"))["claude-api-key"]) == 1
    await expect(h, "DELETE", "claude-api-key", 400, b'{"error":"missing api-key or index"}',
                 params={"index": "5"})
    assert_comments_kept(h.text())


# --- codex-api-key ------------------------------------------------------------------------------


async def test_codex_list(make_harness: MakeHarness) -> None:
    h = await make_harness()
    await expect(h, "PUT", "codex-api-key", 200, OK,
                 json=[{"api-key": "x1", "base-url": "https://x", "prefix": " px "},
                       {"api-key": "x2", "base-url": " "}])
    assert await (await h.call("GET", "codex-api-key")).read() == (
        b'{"codex-api-key":[{"api-key":"x1","prefix":"px","base-url":"https://x","proxy-url":"","models":[]}]}')
    await expect(h, "PATCH", "codex-api-key", 404, b'{"error":"item not found"}',
                 json={"index": 3, "value": {}})
    await expect(h, "PATCH", "codex-api-key", 200, OK, json={"index": 0, "value": {"base-url": ""}})
    assert await get_json(h, "codex-api-key") == {"codex-api-key": []}
    assert disk(h)["codex-api-key"] == []


# --- vertex-api-key -----------------------------------------------------------------------------


async def test_vertex_list(make_harness: MakeHarness) -> None:
    h = await make_harness()
    await expect(h, "PUT", "vertex-api-key", 200, OK,
                 json=[{"api-key": "v1", "base-url": "https://v", "models": [{"name": "a", "alias": ""},
                                                                             {"name": " b ", "alias": " c "}]},
                       {"api-key": "v2"}, {"api-key": "v1", "base-url": "https://v"}])
    assert await (await h.call("GET", "vertex-api-key")).read() == (
        b'{"vertex-api-key":[{"api-key":"v1","base-url":"https://v","models":[{"name":"b","alias":"c"}]}]}')
    await expect(h, "PATCH", "vertex-api-key", 200, OK, json={"match": "v1", "value": {"prefix": "t"}})
    assert (await get_json(h, "vertex-api-key"))["vertex-api-key"][0]["prefix"] == "t"
    await expect(h, "DELETE", "vertex-api-key", 200, OK, params={"api-key": " unknown "})
    await expect(h, "DELETE", "vertex-api-key", 200, OK, params={"api-key": " v1 "})
    assert await get_json(h, "vertex-api-key") == {"vertex-api-key": []}


# --- openai-compatibility (§10 19) ----------------------------------------------------------------


async def test_openai_compatibility_list(make_harness: MakeHarness) -> None:
    h = await make_harness()
    await expect(h, "PUT", "openai-compatibility", 200, OK, json=[
        {"name": " prov ", "base-url": " https://o ", "api-key-entries": [{"api-key": " k "}],
         "models": [{"name": "m", "alias": "a"}], "headers": {"A": "b"}},
        {"name": "dropped", "base-url": ""}])
    assert await (await h.call("GET", "openai-compatibility")).read() == (
        b'{"openai-compatibility":[{"name":"prov","base-url":"https://o","api-key-entries":[{"api-key":"k"}],'
        b'"models":[{"name":"m","alias":"a"}],"headers":{"A":"b"}}]}')
    await expect(h, "PATCH", "openai-compatibility", 404, b'{"error":"item not found"}',
                 json={"name": "nope", "value": {}})
    await expect(h, "PATCH", "openai-compatibility", 200, OK,
                 json={"name": " prov ", "value": {"name": "renamed", "models": []}})
    entry = (await get_json(h, "openai-compatibility"))["openai-compatibility"][0]
    assert (entry["name"], entry["models"]) == ("renamed", [])
    await expect(h, "DELETE", "openai-compatibility", 400, b'{"error":"missing name or index"}')
    await expect(h, "PATCH", "openai-compatibility", 200, OK, json={"index": 0, "value": {"base-url": " "}})
    assert await get_json(h, "openai-compatibility") == {"openai-compatibility": None}
    assert disk(h)["openai-compatibility"] == []
    assert_comments_kept(h.text())


async def test_openai_compatibility_delete_by_name(make_harness: MakeHarness) -> None:
    h = await make_harness()
    await expect(h, "PUT", "openai-compatibility", 200, OK,
                 json=[{"name": "a", "base-url": "https://a"}, {"name": "b", "base-url": "https://b"}])
    await expect(h, "DELETE", "openai-compatibility", 200, OK, params={"name": "a"})
    await expect(h, "DELETE", "openai-compatibility", 200, OK, params={"name": "missing"})
    assert [e["name"] for e in (await get_json(h, "openai-compatibility"))["openai-compatibility"]] == ["b"]


@pytest.mark.parametrize("path", ["gemini-api-key", "claude-api-key", "codex-api-key", "vertex-api-key",
                                  "openai-compatibility"])
@pytest.mark.parametrize("body", [b'{"items":[]}', b"{}", b'[{"base-url":5}]', b'[{"priority":1.5}]', b"[1]",
                                  b'[{"models":{}}]'])
async def test_object_list_put_rejects(make_harness: MakeHarness, path: str, body: bytes) -> None:
    h = await make_harness()
    await expect(h, "PUT", path, 400, b'{"error":"invalid body"}', body=body)


# --- oauth-excluded-models (§10 20) ----------------------------------------------------------------


async def test_oauth_excluded_models(make_harness: MakeHarness) -> None:
    h = await make_harness()
    assert await (await h.call("GET", "oauth-excluded-models")).read() == b'{"oauth-excluded-models":null}'
    await expect(h, "PATCH", "oauth-excluded-models", 200, OK,
                 json={"provider": "Gemini-CLI", "models": [" M1 ", "m1"]})
    assert await (await h.call("GET", "oauth-excluded-models")).read() == (
        b'{"oauth-excluded-models":{"gemini-cli":["m1"]}}')
    assert disk(h)["oauth-excluded-models"] == {"gemini-cli": ["m1"]}
    await expect(h, "DELETE", "oauth-excluded-models", 404, b'{"error":"provider not found"}',
                 params={"provider": "nope"})
    await expect(h, "DELETE", "oauth-excluded-models", 400, b'{"error":"missing provider"}')
    await expect(h, "PATCH", "oauth-excluded-models", 400, b'{"error":"invalid body"}', json={"models": ["a"]})
    await expect(h, "PATCH", "oauth-excluded-models", 400, b'{"error":"invalid provider"}',
                 json={"provider": "  "})
    await expect(h, "PATCH", "oauth-excluded-models", 404, b'{"error":"provider not found"}',
                 json={"provider": "claude", "models": []})
    await expect(h, "PATCH", "oauth-excluded-models", 200, OK, json={"provider": "GEMINI-CLI"})
    assert await get_json(h, "oauth-excluded-models") == {"oauth-excluded-models": None}
    assert "oauth-excluded-models" not in disk(h)
    assert_comments_kept(h.text())


async def test_oauth_excluded_models_put(make_harness: MakeHarness) -> None:
    h = await make_harness()
    await expect(h, "PUT", "oauth-excluded-models", 200, OK,
                 json={"Zed": ["B", "b"], "alpha": ["x"], "empty": [], "nil": None})
    assert await (await h.call("GET", "oauth-excluded-models")).read() == (
        b'{"oauth-excluded-models":{"alpha":["x"],"zed":["b"]}}')
    await expect(h, "PUT", "oauth-excluded-models", 200, OK, json={"items": {"claude": ["c"]}})
    assert await get_json(h, "oauth-excluded-models") == {"oauth-excluded-models": {"claude": ["c"]}}
    await expect(h, "PUT", "oauth-excluded-models", 400, b'{"error":"invalid body"}', json=["claude"])
    await expect(h, "DELETE", "oauth-excluded-models", 200, OK, params={"provider": " Claude "})
    assert "oauth-excluded-models" not in disk(h)


async def test_lists_start_from_the_file(make_harness: MakeHarness) -> None:
    config = CONFIG_YAML + "gemini-api-key:\n  # first key\n  - api-key: from-file\n"
    h = await make_harness(config)
    assert await get_json(h, "gemini-api-key") == {"gemini-api-key": [{"api-key": "from-file"}]}
    await expect(h, "PATCH", "gemini-api-key", 200, OK, json={"index": 0, "value": {"prefix": "t"}})
    assert "# first key" in h.text()
    assert disk(h)["gemini-api-key"] == [{"api-key": "from-file", "prefix": "t"}]


async def test_api_keys_absent_from_file_is_null_like_legacy(make_harness: MakeHarness) -> None:
    h = await make_harness(CONFIG_YAML.replace("api-keys:\n  - k1\n", ""))
    assert await (await h.call("GET", "api-keys")).read() == b'{"api-keys":null}'
    await expect(h, "PATCH", "api-keys", 200, OK, json={"old": "x", "new": "first"})
    assert await get_json(h, "api-keys") == {"api-keys": ["first"]}


async def test_concurrent_edits_are_not_lost(make_harness: MakeHarness) -> None:
    h = await make_harness()
    patches = [h.call("PATCH", "api-keys", json={"old": f"missing-{i}", "new": f"n{i}"}) for i in range(8)]
    assert [r.status for r in await asyncio.gather(*patches)] == [200] * 8
    keys = (await get_json(h, "api-keys"))["api-keys"]
    assert sorted(keys) == sorted(["k1", *(f"n{i}" for i in range(8))])
    assert sorted(disk(h)["api-keys"]) == sorted(keys)


@pytest.mark.parametrize(("text", "value"), [
    ("3", 3), (" 3", 3), ("+3", 3), ("-1", -1), ("2abc", 2), ("0x10", 0), ("1_0", 1), ("\u3000 4", 4),
    ("", None), ("abc", None), ("\n3", None), ("٣", None), ("9223372036854775808", None),
])
def test_go_sscanf_int(text: str, value: int | None) -> None:
    assert go_sscanf_int(text) == value
