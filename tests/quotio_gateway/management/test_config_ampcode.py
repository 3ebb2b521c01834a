"""ampcode settings: every route's answers, what reaches config.yaml, refusals that leave it alone."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from .conftest import CONFIG_YAML, MakeHarness

OK = b'{"status":"ok"}'
INVALID = b'{"error":"invalid body"}'
AMP_CONFIG = CONFIG_YAML + """\
ampcode:
  # where Amp goes
  upstream-url: "https://ampcode.com"
  upstream-api-keys:
    - upstream-api-key: u0
      api-keys: [k0]
  model-mappings:
    - from: claude-opus-4.5 # asked for
      to: claude-sonnet-4
"""


async def expect(h: Any, method: str, path: str, status: int, answer: bytes, **kwargs: Any) -> None:
    response = await h.call(method, path, **kwargs)
    assert (response.status, await response.read()) == (status, answer)


async def refused(h: Any, method: str, path: str, status: int, answer: bytes, **kwargs: Any) -> None:
    """A refusal: the exact answer, and config.yaml byte for byte as it was."""
    before = h.path.read_bytes()
    await expect(h, method, path, status, answer, **kwargs)
    assert h.path.read_bytes() == before


async def get(h: Any, path: str) -> bytes:
    response = await h.call("GET", path)
    assert response.status == 200
    return await response.read()


def amp_on_disk(h: Any) -> Any:
    return yaml.safe_load(h.text()).get("ampcode")


# --- GET /ampcode ---------------------------------------------------------------------------------


async def test_get_without_a_section(make_harness: MakeHarness) -> None:
    h = await make_harness()
    assert await get(h, "ampcode") == (
        b'{"ampcode":{"upstream-url":"","upstream-api-key":"","restrict-management-to-localhost":false,'
        b'"model-mappings":null,"force-model-mappings":false}}')
    assert await get(h, "ampcode/model-mappings") == b'{"model-mappings":null}'
    assert await get(h, "ampcode/upstream-api-keys") == b'{"upstream-api-keys":null}'
    assert await get(h, "ampcode/upstream-url") == b'{"upstream-url":""}'
    assert await get(h, "ampcode/upstream-api-key") == b'{"upstream-api-key":""}'
    assert await get(h, "ampcode/restrict-management-to-localhost") == b'{"restrict-management-to-localhost":false}'
    assert await get(h, "ampcode/force-model-mappings") == b'{"force-model-mappings":false}'


async def test_get_with_a_section(make_harness: MakeHarness) -> None:
    h = await make_harness(AMP_CONFIG)
    assert await get(h, "ampcode") == (
        b'{"ampcode":{"upstream-url":"https://ampcode.com","upstream-api-key":"",'
        b'"upstream-api-keys":[{"upstream-api-key":"u0","api-keys":["k0"]}],'
        b'"restrict-management-to-localhost":false,'
        b'"model-mappings":[{"from":"claude-opus-4.5","to":"claude-sonnet-4"}],"force-model-mappings":false}}')
    assert await get(h, "ampcode/upstream-api-keys") == (
        b'{"upstream-api-keys":[{"upstream-api-key":"u0","api-keys":["k0"]}]}')


async def test_an_empty_key_list_in_the_file_is_shown_as_a_list(make_harness: MakeHarness) -> None:
    # The section's own JSON leaves an empty upstream-api-keys out; the dedicated GET shows it.
    h = await make_harness(CONFIG_YAML + "ampcode:\n  upstream-api-keys: []\n  model-mappings: []\n")
    assert await get(h, "ampcode/upstream-api-keys") == b'{"upstream-api-keys":[]}'
    assert await get(h, "ampcode/model-mappings") == b'{"model-mappings":[]}'
    assert b"upstream-api-keys" not in await get(h, "ampcode")


# --- the two strings --------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "method"), [("upstream-url", "PUT"), ("upstream-url", "PATCH"),
                                              ("upstream-api-key", "PUT"), ("upstream-api-key", "PATCH")])
async def test_string_settings(make_harness: MakeHarness, name: str, method: str) -> None:
    h = await make_harness(AMP_CONFIG)
    path = f"ampcode/{name}"
    await expect(h, method, path, 200, OK, json={"value": "  https://relay.example/amp \t"})
    assert await get(h, path) == f'{{"{name}":"https://relay.example/amp"}}'.encode()
    assert amp_on_disk(h)[name] == "https://relay.example/amp"
    assert "# where Amp goes" in h.text() and "# asked for" in h.text()
    for payload in (b"{}", b'{"value":null}', b'{"value":1}', b"", b"[", b'"x"'):
        await refused(h, method, path, 400, INVALID, body=payload)
    await expect(h, "DELETE", path, 200, OK)
    assert await get(h, path) == f'{{"{name}":""}}'.encode()
    assert amp_on_disk(h)[name] == ""


# --- the two switches ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "method"), [("restrict-management-to-localhost", "PUT"),
                                              ("restrict-management-to-localhost", "PATCH"),
                                              ("force-model-mappings", "PUT"), ("force-model-mappings", "PATCH")])
async def test_switches(make_harness: MakeHarness, name: str, method: str) -> None:
    h = await make_harness(AMP_CONFIG)
    path = f"ampcode/{name}"
    await expect(h, method, path, 200, OK, json={"value": True})
    assert await get(h, path) == f'{{"{name}":true}}'.encode()
    assert amp_on_disk(h)[name] is True
    for payload in (b"{}", b'{"value":"yes"}', b'{"value":1}', b"", b"null"):
        await refused(h, method, path, 400, INVALID, body=payload)
    await expect(h, method, path, 200, OK, json={"value": False})
    assert amp_on_disk(h)[name] is False


# --- model-mappings -----------------------------------------------------------------------------------


async def test_model_mappings_put_patch_delete(make_harness: MakeHarness) -> None:
    h = await make_harness(AMP_CONFIG)
    path = "ampcode/model-mappings"
    # Stored as sent: the legacy trims nothing here.
    await expect(h, "PUT", path, 200, OK, json={"value": [{"from": " gpt-5 ", "to": "claude-sonnet-4", "regex": True},
                                                        {"from": "b", "to": "c"}]})
    assert await get(h, path) == (b'{"model-mappings":[{"from":" gpt-5 ","to":"claude-sonnet-4","regex":true},'
                                  b'{"from":"b","to":"c"}]}')
    assert amp_on_disk(h)["model-mappings"] == [{"from": " gpt-5 ", "to": "claude-sonnet-4", "regex": True},
                                                {"from": "b", "to": "c"}]
    # PATCH matches on the trimmed from, replaces in place, appends the rest.
    await expect(h, "PATCH", path, 200, OK, json={"value": [{"from": "gpt-5", "to": "x"}, {"from": "new", "to": "y"},
                                                          {"from": "new ", "to": "z"}]})
    assert await get(h, path) == (b'{"model-mappings":[{"from":"gpt-5","to":"x"},{"from":"b","to":"c"},'
                                  b'{"from":"new ","to":"z"}]}')
    await expect(h, "DELETE", path, 200, OK, json={"value": [" new", "unknown"]})
    assert await get(h, path) == b'{"model-mappings":[{"from":"gpt-5","to":"x"},{"from":"b","to":"c"}]}'
    assert "# where Amp goes" in h.text()


@pytest.mark.parametrize("payload", [None, b"", b"{}", b'{"value":[]}', b'{"value":null}', b'["b"]',
                                     b'{"value":[1]}', b"not json"])
async def test_model_mappings_delete_without_a_usable_list_clears_all(make_harness: MakeHarness,
                                                                     payload: bytes | None) -> None:
    h = await make_harness(AMP_CONFIG)
    await expect(h, "DELETE", "ampcode/model-mappings", 200, OK, body=payload)
    assert await get(h, "ampcode/model-mappings") == b'{"model-mappings":[]}'
    assert amp_on_disk(h)["model-mappings"] == []


async def test_model_mappings_put_without_value_empties_the_list(make_harness: MakeHarness) -> None:
    h = await make_harness(AMP_CONFIG)
    await expect(h, "PUT", "ampcode/model-mappings", 200, OK, json={})
    assert amp_on_disk(h)["model-mappings"] == []


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize("payload", [b"", b"[", b'{"value":{}}', b'{"value":[{"from":1}]}',
                                     b'{"value":[{"from":"a","regex":"yes"}]}', b"[]"])
async def test_model_mappings_refusals_leave_the_file_alone(make_harness: MakeHarness, method: str,
                                                           payload: bytes) -> None:
    h = await make_harness(AMP_CONFIG)
    await refused(h, method, "ampcode/model-mappings", 400, INVALID, body=payload)


async def test_model_mappings_patch_onto_none(make_harness: MakeHarness) -> None:
    h = await make_harness()
    await expect(h, "PATCH", "ampcode/model-mappings", 200, OK, json={"value": [{"from": "a", "to": "b"}]})
    # A section new to the file is written whole, zero values included, as the legacy's merge does.
    assert amp_on_disk(h) == {"upstream-url": "", "upstream-api-key": "", "restrict-management-to-localhost": False,
                              "model-mappings": [{"from": "a", "to": "b"}], "force-model-mappings": False}


# --- upstream-api-keys --------------------------------------------------------------------------------


async def test_upstream_api_keys_put_and_patch(make_harness: MakeHarness) -> None:
    h = await make_harness(AMP_CONFIG)
    path = "ampcode/upstream-api-keys"
    await expect(h, "PUT", path, 200, OK, json={"value": [
        {"upstream-api-key": " u1 ", "api-keys": [" k1 ", "", " ", None]},
        {"upstream-api-key": "  ", "api-keys": ["dropped"]},
        {"upstream-api-key": "u2"}]})
    # An entry without keys is written as an empty list (Go's nil slice), so it reads back as [].
    assert await get(h, path) == (b'{"upstream-api-keys":[{"upstream-api-key":"u1","api-keys":["k1"]},'
                                  b'{"upstream-api-key":"u2","api-keys":[]}]}')
    assert amp_on_disk(h)["upstream-api-keys"] == [{"upstream-api-key": "u1", "api-keys": ["k1"]},
                                                   {"upstream-api-key": "u2", "api-keys": []}]
    await expect(h, "PATCH", path, 200, OK, json={"value": [
        {"upstream-api-key": " u2 ", "api-keys": ["k2 "]}, {"upstream-api-key": "", "api-keys": ["x"]},
        {"upstream-api-key": "u3", "api-keys": ["k3"]}]})
    assert await get(h, path) == (b'{"upstream-api-keys":[{"upstream-api-key":"u1","api-keys":["k1"]},'
                                  b'{"upstream-api-key":"u2","api-keys":["k2"]},'
                                  b'{"upstream-api-key":"u3","api-keys":["k3"]}]}')
    await expect(h, "DELETE", path, 200, OK, json={"value": [" u2", "", "unknown"]})
    assert [e["upstream-api-key"] for e in amp_on_disk(h)["upstream-api-keys"]] == ["u1", "u3"]


@pytest.mark.parametrize(("payload", "answer"), [
    (None, INVALID), (b"", INVALID), (b"[", INVALID), (b'{"value":"u0"}', INVALID), (b'["u0"]', INVALID),
    (b"{}", b'{"error":"missing value"}'), (b"null", b'{"error":"missing value"}'),
    (b'{"value":null}', b'{"error":"missing value"}'),
    (b'{"value":[""," \\t",null]}', b'{"error":"empty value"}'),
])
async def test_upstream_api_keys_delete_refusals(make_harness: MakeHarness, payload: bytes | None,
                                                 answer: bytes) -> None:
    h = await make_harness(AMP_CONFIG)
    await refused(h, "DELETE", "ampcode/upstream-api-keys", 400, answer, body=payload)


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize("payload", [b"", b"[", b'{"value":{}}', b'{"value":[{"upstream-api-key":1}]}',
                                     b'{"value":[{"api-keys":"k"}]}'])
async def test_upstream_api_keys_refusals_leave_the_file_alone(make_harness: MakeHarness, method: str,
                                                              payload: bytes) -> None:
    h = await make_harness(AMP_CONFIG)
    await refused(h, method, "ampcode/upstream-api-keys", 400, INVALID, body=payload)


async def test_upstream_api_keys_clearing_empties_the_file_too(make_harness: MakeHarness) -> None:
    # The legacy at 9b72ea9ef sets an empty (omitempty) list, which its merge-into-the-file writer
    # skips, so the entries came back on the reload; here clearing sticks (compatibility.md).
    for how, payload in (("DELETE", {"value": []}), ("DELETE", {"value": ["u0"]}), ("PUT", {"value": []})):
        h = await make_harness(AMP_CONFIG)
        await expect(h, how, "ampcode/upstream-api-keys", 200, OK, json=payload)
        assert await get(h, "ampcode/upstream-api-keys") == b'{"upstream-api-keys":null}'
        assert "upstream-api-keys" not in amp_on_disk(h)
