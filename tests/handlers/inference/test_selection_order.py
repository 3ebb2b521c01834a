"""Which of several config keys serves: the legacy's order (its credential IDs), over HTTP."""

from __future__ import annotations

import hashlib

import pytest

from tests.fakes.llm_upstream import FakeLLM, status
from tests.handlers.inference.test_faults import CLAUDE_MODEL, MakeGateway, chat, freeze_rotation_clock

KEYS = ["ka", "kb", "kc", "kd"]


def legacy_order(keys: list[str], base: str) -> list[str]:
    """The keys sorted as the legacy sorts its auths: by ``claude:apikey:`` + the first 12 hex
    digits of sha256("claude:apikey" NUL key NUL base) (synthesizer/helpers.go, selector.go)."""
    def ident(key: str) -> str:
        return hashlib.sha256(b"claude:apikey\0" + key.encode() + b"\0" + base.encode()).hexdigest()[:12]
    return sorted(keys, key=ident)


def config(root: str, strategy: str) -> str:
    keys = "".join(f"  - api-key: {k}\n    base-url: {root}\n" for k in KEYS)
    return f"routing:\n  strategy: {strategy}\nclaude-api-key:\n{keys}"


async def test_fill_first_drains_the_key_the_legacy_drains(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    client = await gateway(config(fake_llm.root, "fill-first"))
    for _ in range(3):
        resp = await client.post("/v1/chat/completions", json=chat(CLAUDE_MODEL))
        assert resp.status == 200
    first = legacy_order(KEYS, fake_llm.root)[0]
    assert [r.key for r in fake_llm.requests] == [first] * 3


async def test_round_robin_takes_the_keys_in_the_legacy_order(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    client = await gateway(config(fake_llm.root, "round-robin"))
    for _ in range(len(KEYS)):
        resp = await client.post("/v1/chat/completions", json=chat(CLAUDE_MODEL))
        assert resp.status == 200
    assert [r.key for r in fake_llm.requests] == legacy_order(KEYS, fake_llm.root)


@pytest.mark.parametrize("prefix", ["teama", "teamb"])
async def test_the_same_key_twice_is_two_credentials(gateway: MakeGateway, fake_llm: FakeLLM, prefix: str) -> None:
    """Two entries with one key and base URL but their own prefix and headers: each prefix is served,
    with its entry's headers (the legacy names the second ``…-1``)."""
    entries = (f"  - api-key: same\n    base-url: {fake_llm.root}\n    prefix: teama\n    headers: {{X-Team: a}}\n"
               f"  - api-key: same\n    base-url: {fake_llm.root}\n    prefix: teamb\n    headers: {{X-Team: b}}\n")
    client = await gateway(f"claude-api-key:\n{entries}")
    resp = await client.post("/v1/chat/completions", json=chat(f"{prefix}/{CLAUDE_MODEL}"))
    assert resp.status == 200, await resp.text()
    assert fake_llm.requests[-1].headers["X-Team"] == prefix[-1]


async def test_credentials_of_every_provider_serving_a_model_are_one_pool(gateway: MakeGateway,
                                                                          fake_llm: FakeLLM) -> None:
    """The mixed picker pools the credentials of all providers that serve the model and sorts them
    by id (conductor.go:1733-1790, selector.go:170-174): ``gemini:apikey:…`` before
    ``openai-compatibility:<name>:…`` before ``vertex:apikey:…``, whatever the config order."""
    root = fake_llm.root
    text = (f"vertex-api-key:\n  - api-key: v1\n    base-url: {root}\n"
            f"openai-compatibility:\n  - name: zz\n    base-url: {root}/v1\n    api-key-entries: [{{api-key: c1}}]\n"
            f"    models: [{{name: upstream-model, alias: gemini-2.5-pro}}]\n"
            f"gemini-api-key:\n  - api-key: g1\n    base-url: {root}\n")
    client = await gateway(text)
    for _ in range(4):
        resp = await client.post("/v1/chat/completions", json=chat("gemini-2.5-pro"))
        assert resp.status == 200
    assert [(r.key, r.path) for r in fake_llm.requests] == [
        ("g1", "/v1beta/models/gemini-2.5-pro:generateContent"),
        ("c1", "/v1/chat/completions"),
        ("v1", "/v1/publishers/google/models/gemini-2.5-pro:generateContent"),
        ("g1", "/v1beta/models/gemini-2.5-pro:generateContent"),
    ]
    assert fake_llm.requests[1].body["model"] == "upstream-model"


QUOTA = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}


async def test_fill_first_moves_on_while_the_first_key_cools_and_goes_back_after(gateway: MakeGateway,
                                                                                fake_llm: FakeLLM) -> None:
    """FillFirstSelector takes the first unblocked key (selector.go:206-214): a 429 on it (1 s)
    hands the next requests to the second key until the cooldown is over."""
    client = await gateway(config(fake_llm.root, "ff"))
    advance = freeze_rotation_clock(client)
    first, second = legacy_order(KEYS, fake_llm.root)[:2]
    fake_llm.script(first, status(429, QUOTA))
    for _ in range(3):
        assert (await client.post("/v1/chat/completions", json=chat(CLAUDE_MODEL))).status == 200
    advance(1.0)  # a cooldown is over at exactly its end
    assert (await client.post("/v1/chat/completions", json=chat(CLAUDE_MODEL))).status == 200
    assert [r.key for r in fake_llm.requests] == [first, second, second, second, first]


async def test_round_robin_failover_indexes_the_untried_keys_with_the_same_cursor(gateway: MakeGateway,
                                                                                  fake_llm: FakeLLM) -> None:
    """One cursor per ``mixed:<model>`` moves on every pick, failover picks included, and indexes
    the list of keys still pickable (selector.go:180-202): after the first key's 429 the second
    pick of that request is ``[k1, k2, k3][1]``, not the next key in order."""
    client = await gateway(config(fake_llm.root, "round-robin"))
    freeze_rotation_clock(client)  # the 1 s cooldown must outlast the requests below
    k0, k1, k2, k3 = legacy_order(KEYS, fake_llm.root)
    fake_llm.script(k0, status(429, QUOTA))
    for _ in range(4):
        assert (await client.post("/v1/chat/completions", json=chat(CLAUDE_MODEL))).status == 200
    assert [r.key for r in fake_llm.requests] == [k0, k2, k3, k1, k2]
