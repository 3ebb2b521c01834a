"""oauth-model-alias: answers, sanitising, refusals that leave config.yaml alone, and the registry."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from handlers.models.catalog import CLAUDE
from handlers.models.registry import registry_for

from .conftest import CONFIG_YAML, MakeHarness

OK = b'{"status":"ok"}'
ALIAS_CONFIG = CONFIG_YAML + """\
oauth-model-alias:
  # renames for claude logins
  claude:
    - name: claude-3-5-haiku-20241022
      alias: haiku # short
"""
HAIKU = b'{"name":"claude-3-5-haiku-20241022","alias":"haiku"}'


async def expect(h: Any, method: str, path: str, status: int, answer: bytes, **kwargs: Any) -> None:
    response = await h.call(method, path, **kwargs)
    assert (response.status, await response.read()) == (status, answer)


async def refused(h: Any, method: str, status: int, answer: bytes, **kwargs: Any) -> None:
    """A refusal: the exact answer, and config.yaml byte for byte as it was."""
    before = h.path.read_bytes()
    await expect(h, method, "oauth-model-alias", status, answer, **kwargs)
    assert h.path.read_bytes() == before


async def body(h: Any) -> bytes:
    response = await h.call("GET", "oauth-model-alias")
    assert response.status == 200
    return await response.read()


def on_disk(h: Any) -> Any:
    return yaml.safe_load(h.text()).get("oauth-model-alias")


async def test_get_shows_the_seeded_antigravity_aliases(make_harness: MakeHarness) -> None:
    # A file without the key gets the default antigravity channel written at load (legacy migration).
    h = await make_harness()
    answer = await body(h)
    assert answer.startswith(b'{"oauth-model-alias":{"antigravity":[{"name":"rev19-uic3-1p",'
                             b'"alias":"gemini-2.5-computer-use-preview-10-2025"},')
    assert len(on_disk(h)["antigravity"]) == 7


async def test_get_of_an_empty_map_is_null_and_channels_are_sorted(make_harness: MakeHarness) -> None:
    h = await make_harness(CONFIG_YAML + "oauth-model-alias: {}\n")
    assert await body(h) == b'{"oauth-model-alias":null}'
    h = await make_harness(CONFIG_YAML + "oauth-model-alias:\n  zeta: [{name: a, alias: b}]\n"
                                         "  alpha: [{name: c, alias: d, fork: true}]\n")
    assert await body(h) == (b'{"oauth-model-alias":{"alpha":[{"name":"c","alias":"d","fork":true}],'
                             b'"zeta":[{"name":"a","alias":"b"}]}}')


async def test_patch_sanitises_and_keeps_fork(make_harness: MakeHarness) -> None:
    h = await make_harness(ALIAS_CONFIG)
    aliases = [{"name": " claude-opus-4-1 ", "alias": " opus ", "fork": True},
               {"name": "same", "alias": "SAME"},          # names itself: dropped
               {"name": "other", "alias": "Opus"},         # alias taken (case-insensitive): dropped
               {"name": "", "alias": "blank"}, None,       # blank side, null element: dropped
               {"Name": "claude-sonnet-4", "ALIAS": "sonnet"}]  # Go matches field names loosely
    await expect(h, "PATCH", "oauth-model-alias", 200, OK, json={"channel": " Codex ", "aliases": aliases})
    assert await body(h) == (b'{"oauth-model-alias":{"claude":[' + HAIKU + b'],"codex":['
                             b'{"name":"claude-opus-4-1","alias":"opus","fork":true},'
                             b'{"name":"claude-sonnet-4","alias":"sonnet"}]}}')
    assert on_disk(h)["codex"] == [{"name": "claude-opus-4-1", "alias": "opus", "fork": True},
                                   {"name": "claude-sonnet-4", "alias": "sonnet"}]
    assert "# renames for claude logins" in h.text() and "# short" in h.text()


async def test_patch_provider_is_the_old_spelling_of_channel(make_harness: MakeHarness) -> None:
    h = await make_harness(ALIAS_CONFIG)
    await expect(h, "PATCH", "oauth-model-alias", 200, OK,
                 json={"provider": "CLAUDE", "aliases": [{"name": "claude-opus-4-1", "alias": "opus"}]})
    assert on_disk(h)["claude"] == [{"name": "claude-opus-4-1", "alias": "opus"}]
    # A present channel wins, even blank; a null one falls back to provider.
    await refused(h, "PATCH", 400, b'{"error":"invalid channel"}',
                  json={"channel": " ", "provider": "claude", "aliases": [{"name": "a", "alias": "b"}]})
    await expect(h, "PATCH", "oauth-model-alias", 200, OK,
                 json={"channel": None, "provider": "gemini-cli", "aliases": [{"name": "a", "alias": "b"}]})
    assert on_disk(h)["gemini-cli"] == [{"name": "a", "alias": "b"}]


@pytest.mark.parametrize(("payload", "status", "answer"), [
    # §9 item 21
    (b'{"aliases":[]}', 400, b'{"error":"invalid channel"}'),
    (b'{"channel":"  ","aliases":[{"name":"a","alias":"b"}]}', 400, b'{"error":"invalid channel"}'),
    (b"null", 400, b'{"error":"invalid channel"}'),
    (b'{"channel":"nope","aliases":[]}', 404, b'{"error":"channel not found"}'),
    (b'{"channel":"nope"}', 404, b'{"error":"channel not found"}'),
    (b'{"channel":"nope","aliases":[{"name":"x","alias":"X"}]}', 404, b'{"error":"channel not found"}'),
    (b'{"channel":1,"aliases":[]}', 400, b'{"error":"invalid body"}'),
    (b'{"channel":"claude","aliases":{}}', 400, b'{"error":"invalid body"}'),
    (b'{"channel":"claude","aliases":[{"name":"a","alias":"b","fork":"yes"}]}', 400, b'{"error":"invalid body"}'),
    (b"", 400, b'{"error":"invalid body"}'),
    (b"[", 400, b'{"error":"invalid body"}'),
])
async def test_patch_refusals_leave_the_file_alone(make_harness: MakeHarness, payload: bytes, status: int,
                                                   answer: bytes) -> None:
    h = await make_harness(ALIAS_CONFIG)
    await refused(h, "PATCH", status, answer, body=payload)


async def test_patch_with_nothing_left_deletes_but_the_file_keeps_the_channel(make_harness: MakeHarness) -> None:
    # The legacy's writer merges the alias map without pruning it (fixed upstream in v6.7.28),
    # so an emptied channel is answered ok and comes back with the reload.
    h = await make_harness(ALIAS_CONFIG)
    await expect(h, "PATCH", "oauth-model-alias", 200, OK,
                 json={"channel": "claude", "aliases": [{"name": "x", "alias": " "}]})
    assert on_disk(h)["claude"] == [{"name": "claude-3-5-haiku-20241022", "alias": "haiku"}]
    assert await body(h) == b'{"oauth-model-alias":{"claude":[' + HAIKU + b']}}'


async def test_patch_shortens_and_replaces_a_channel(make_harness: MakeHarness) -> None:
    h = await make_harness(CONFIG_YAML + "oauth-model-alias:\n  claude:\n    - {name: a, alias: b, fork: true}\n"
                                         "    - {name: c, alias: d}\n")
    await expect(h, "PATCH", "oauth-model-alias", 200, OK, json={"channel": "claude",
                                                                  "aliases": [{"name": "e", "alias": "f"}]})
    assert on_disk(h) == {"claude": [{"name": "e", "alias": "f"}]}


async def test_delete(make_harness: MakeHarness) -> None:
    h = await make_harness(ALIAS_CONFIG)
    await refused(h, "DELETE", 400, b'{"error":"missing channel"}')
    await refused(h, "DELETE", 400, b'{"error":"missing channel"}', params={"channel": " "})
    await refused(h, "DELETE", 404, b'{"error":"channel not found"}', params={"channel": "nope"})
    await refused(h, "DELETE", 404, b'{"error":"channel not found"}', params={"provider": "codex"})
    # Known channel, by either name: answered ok; as with the legacy the file still holds it.
    await expect(h, "DELETE", "oauth-model-alias", 200, OK, params={"channel": " Claude "})
    await expect(h, "DELETE", "oauth-model-alias", 200, OK, params={"provider": "claude"})
    assert on_disk(h) == {"claude": [{"name": "claude-3-5-haiku-20241022", "alias": "haiku"}]}


async def test_put_replaces_with_a_sanitised_map(make_harness: MakeHarness) -> None:
    h = await make_harness(CONFIG_YAML + "oauth-model-alias: {}\n")
    await expect(h, "PUT", "oauth-model-alias", 200, OK,
                 json={" Claude ": [{"name": " n ", "alias": " a ", "fork": True}, {"name": "n", "alias": "A"}],
                       "empty": [], "blank": [{"name": "x", "alias": ""}], "codex": None})
    assert await body(h) == b'{"oauth-model-alias":{"claude":[{"name":"n","alias":"a","fork":true}]}}'
    assert on_disk(h) == {"claude": [{"name": "n", "alias": "a", "fork": True}]}
    await expect(h, "PUT", "oauth-model-alias", 200, OK,
                 json={"items": {"claude": [{"name": "m", "alias": "b"}], "codex": [{"name": "c", "alias": "d"}]}})
    assert on_disk(h) == {"claude": [{"name": "m", "alias": "b"}], "codex": [{"name": "c", "alias": "d"}]}


@pytest.mark.parametrize("payload", [b'{"claude":"x"}', b"null", b"{}", b'{"items":null}', b'{"items":[]}'])
async def test_put_of_nothing_usable_is_ok_and_changes_nothing(make_harness: MakeHarness, payload: bytes) -> None:
    # Each decodes to no usable channel (as a map, or as a struct without "items"); Go saves a nil map.
    h = await make_harness(ALIAS_CONFIG)
    await expect(h, "PUT", "oauth-model-alias", 200, OK, body=payload)
    assert await body(h) == b'{"oauth-model-alias":{"claude":[' + HAIKU + b']}}'


@pytest.mark.parametrize("payload", [b"", b"[]", b'{"items":{"claude":"x"}}',
                                     b'{"claude":[]} trailing', b'"claude"'])
async def test_put_refusals_leave_the_file_alone(make_harness: MakeHarness, payload: bytes) -> None:
    h = await make_harness(ALIAS_CONFIG)
    await refused(h, "PUT", 400, b'{"error":"invalid body"}', body=payload)


async def test_a_new_alias_reaches_the_model_registry(make_harness: MakeHarness) -> None:
    h = await make_harness(CONFIG_YAML + "oauth-model-alias: {}\n")
    live = registry_for(h.store)
    live.set_credentials(lambda: [("claude", "", None)])
    assert "haiku" not in [m.id for m in live.current.available()]
    await expect(h, "PATCH", "oauth-model-alias", 200, OK,
                 json={"channel": "claude", "aliases": [{"name": "claude-3-5-haiku-20241022", "alias": "haiku"}]})
    listed = [m.id for m in live.current.available()]
    assert "haiku" in listed and "claude-3-5-haiku-20241022" not in listed
    assert len(listed) == len(CLAUDE)
    await expect(h, "PATCH", "oauth-model-alias", 200, OK, json={
        "channel": "claude", "aliases": [{"name": "claude-3-5-haiku-20241022", "alias": "haiku", "fork": True}]})
    listed = [m.id for m in live.current.available()]
    assert "haiku" in listed and "claude-3-5-haiku-20241022" in listed
