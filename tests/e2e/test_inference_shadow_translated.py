"""``POST /v1/completions`` and the Gemini model routes in shadow against the stand-in legacy.

The routes the stand-in answers by translation (tests/fakes/legacy_completions.py: completions
carried over chat; tests/fakes/legacy_gemini_models.py: the registry's Gemini view) put in
``shadow`` with the gateway as its own process, on the deterministic fake upstream. Each must
compare with zero mismatches, and a native answer made to differ must be counted a mismatch.

The gateway and the stand-in read two copies of one config that differ only in the
OpenAI-compatible credential (``sk-native`` / ``sk-legacy``), so every upstream request says
which leg sent it: the two legs' upstream requests are compared too, and a fault scripted for
``sk-native`` reaches the native leg only.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.e2e.conftest import API_KEY, MGMT_HASH, Processes, free_port, mgmt_headers, write_flags
from tests.e2e.test_inference_shadow_rules import delta, shadow_state, total
from tests.fakes import start_legacy
from tests.fakes.llm_upstream import FakeLLM, Recorded, status

pytestmark = pytest.mark.asyncio(loop_scope="module")

AUTH = {"Authorization": f"Bearer {API_KEY}"}
SSE = {"Content-Type": "text/event-stream"}
ROUTES = ("POST /v1/completions", "GET /v1beta/models", "GET /v1beta/models/*")


def config_text(port: int, root: str, auth_dir: Path, compat_key: str, extra_gemini: str = "") -> str:
    """Every key section with ``models:`` (no static catalogue on either side), a prefix, an
    excluded model, and an OpenAI-compatible model without an alias."""
    return (f'host: 127.0.0.1\nport: {port}\nauth-dir: "{auth_dir}"\n'
            f'remote-management:\n  secret-key: "{MGMT_HASH}"\napi-keys:\n  - {API_KEY}\n'
            f"gemini-api-key:\n  - api-key: sk-gemini\n    base-url: {root}\n    prefix: team\n"
            "    excluded-models:\n      - '*-pro'\n"
            "    models:\n      - name: gemini-2.5-flash\n        alias: g-alias\n      - name: gemini-2.5-pro\n"
            f"{extra_gemini}"
            f"claude-api-key:\n  - api-key: sk-claude\n    base-url: {root}\n"
            "    models:\n      - name: claude-sonnet-4-5-20250929\n        alias: c-alias\n"
            f"codex-api-key:\n  - api-key: sk-codex\n    base-url: {root}/v1\n    prefix: cx\n"
            "    models:\n      - name: gpt-5\n        alias: x-alias\n"
            f"openai-compatibility:\n  - name: compat\n    base-url: {root}/v1\n"
            f"    api-key-entries:\n      - api-key: {compat_key}\n"
            "    models:\n      - name: upstream-model\n        alias: o-alias\n      - name: second-model\n")


@dataclass
class Setup:
    url: str
    legacy_url: str
    fake: FakeLLM
    session: aiohttp.ClientSession
    write_config: Callable[[str], None]  # the gateway's copy only, with extra Gemini models


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def setup(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Setup]:
    tmp = tmp_path_factory.mktemp("shadow-translated")
    fake = FakeLLM()
    await fake.start()
    port = free_port()
    auth_dir = tmp / "auth"
    auth_dir.mkdir()
    legacy_config = tmp / "legacy.yaml"
    legacy_config.write_text(config_text(port, fake.root, auth_dir, "sk-legacy"))
    config = tmp / "config.yaml"

    def write_config(extra_gemini: str = "") -> None:
        config.write_text(config_text(port, fake.root, auth_dir, "sk-native", extra_gemini))

    write_config()
    processes = Processes(tmp)
    legacy_runner, legacy_url = await start_legacy(legacy_config, port=0)
    try:
        flags = write_flags(tmp / "flags.yaml", {
            "default": "legacy", "legacy": {"url": legacy_url},
            "server": {"state_dir": str(tmp / "state")},
            # Every comparison is sampled, so a mismatch can be read back.
            "shadow": {"sample_interval_seconds": 0},
            "routes": [{"match": ROUTES[0], "mode": "shadow", "shadow_llm": True},
                       {"match": ROUTES[1], "mode": "shadow"}, {"match": ROUTES[2], "mode": "shadow"}],
        })
        gateway = processes.gateway(config, flags, port=port)
        async with aiohttp.ClientSession() as session:
            yield Setup(gateway.url, legacy_url, fake, session, write_config)
    finally:
        processes.cleanup()
        await legacy_runner.cleanup()
        await fake.stop()


async def shadowed(s: Setup, method: str, path: str, body: Any = None) -> tuple[int, bytes, dict[str, int]]:
    """The client's answer and the outcomes its one comparison added."""
    before = await shadow_state(s.session, s.url)
    async with s.session.request(method, s.url + path, json=body, headers=AUTH) as response:
        answer = await response.read()
        assert response.headers["X-Quotio-Route"] == "shadow/legacy", path
        status_code = response.status
    after = before
    for _ in range(200):
        after = await shadow_state(s.session, s.url)
        if total(after) > total(before):
            break
        await asyncio.sleep(0.05)
    return status_code, answer, delta(before, after)[0]


def leg(requests: list[Recorded], key: str) -> list[Recorded]:
    return [r for r in requests if r.key == key]


def ordered(body: Any) -> Any:
    """A JSON body with its key order made part of the comparison."""
    if isinstance(body, dict):
        return [(key, ordered(value)) for key, value in body.items()]
    if isinstance(body, list):
        return [ordered(item) for item in body]
    return body


def completion_calls() -> list[dict[str, Any]]:
    """Completions bodies for the OpenAI-compatible model. Not here: another upstream (the
    stand-in does not translate chat), a thinking suffix (the stand-in applies no thinking), and a
    ``stream`` that is not JSON ``true`` but reads as true (docs/compatibility.md row 19j)."""
    out: list[dict[str, Any]] = []
    for stream in (False, True):
        out += [
            {"model": "o-alias", "prompt": "say hello", "stream": stream},
            # Every copied field, with gjson's coercions: a float max_tokens, an integral float.
            {"model": "o-alias", "prompt": "say hello", "max_tokens": 16.9, "temperature": 1.0, "top_p": 0.5,
             "frequency_penalty": 0, "presence_penalty": 0.25, "stop": ["\n", "END"], "logprobs": False,
             "top_logprobs": 2, "echo": False, "n": 3, "suffix": "dropped", "user": "u-1", "stream": stream},
            {"model": "second-model", "stream": stream},  # no prompt: "Complete this:"
        ]
    out += [
        # gjson's String(): a prompt that is not a string becomes its JSON text ("" for null).
        {"model": "o-alias", "prompt": ["a", "b"]},
        {"model": "o-alias", "prompt": 42},
        {"model": "o-alias", "prompt": 4.50},
        {"model": "o-alias", "prompt": None},
        {"model": "o-alias", "prompt": {"x": 1}},
        {"model": "o-alias", "prompt": True},
        # Int(), Float() and Bool() of strings, booleans, fractions and nulls.
        {"model": "o-alias", "prompt": "x", "max_tokens": "12", "temperature": "0.7", "top_p": True,
         "logprobs": "1", "echo": 1, "top_logprobs": 2.5, "stop": None, "presence_penalty": None},
        {"model": "o-alias", "prompt": "x", "max_tokens": -3.7, "temperature": 1e-7, "frequency_penalty": 1e22},
    ]
    # Refused before any upstream call on both sides (the error text trimmed for an empty model).
    out += [{"model": "nope", "prompt": "say hello"}, {"prompt": "x"}, {"model": None, "prompt": "x"},
            {"model": "", "prompt": "x", "stream": True}]
    return out


def refused(body: dict[str, Any]) -> bool:
    return body.get("model") in ("nope", "", None)


async def test_completions_match_legacy_in_shadow(setup: Setup) -> None:
    results: dict[str, tuple[int, dict[str, int]]] = {}
    setup.fake.requests.clear()
    for index, body in enumerate(completion_calls()):
        code, answer, outcomes = await shadowed(setup, "POST", "/v1/completions", body)
        results[f"{index}:{json.dumps(body)}"] = (code, outcomes)
        if not refused(body):
            assert answer.startswith(b'data: {"id":"chatcmpl-fake","object":"text_completion"' if body.get("stream")
                                     else b'{"id":"chatcmpl-fake","object":"text_completion"'), answer
    assert results == {f"{index}:{json.dumps(body)}": (400 if refused(body) else 200, {"match": 1})
                       for index, body in enumerate(completion_calls())}
    legacy, native = leg(setup.fake.requests, "sk-legacy"), leg(setup.fake.requests, "sk-native")
    assert len(legacy) == len(native) == len([body for body in completion_calls() if not refused(body)])
    # The same chat request upstream, field order included.
    assert [ordered(r.body) for r in native] == [ordered(r.body) for r in legacy]
    for name in ("Content-Type", "User-Agent", "Accept", "Cache-Control"):
        assert [r.headers.get(name) for r in native] == [r.headers.get(name) for r in legacy], name
    assert legacy[1].body == {
        "model": "upstream-model", "messages": [{"role": "user", "content": "say hello"}], "max_tokens": 16,
        "temperature": 1, "top_p": 0.5, "frequency_penalty": 0, "presence_penalty": 0.25, "stop": ["\n", "END"],
        "stream": False, "logprobs": False, "top_logprobs": 2, "echo": False}


def chat_chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1700000000,
            "model": "upstream-model", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


# A stream cut off by the token limit: the finish reason is "length", not the fake's "stop".
LENGTH_STREAM = b"".join(b"data: " + json.dumps(chunk).encode() + b"\n\n" for chunk in (
    chat_chunk({"role": "assistant", "content": ""}), chat_chunk({"content": "Hello"}),
    chat_chunk({}, "length"))) + b"data: [DONE]\n\n"
LENGTH_ANSWER = {"id": "chatcmpl-fake", "object": "chat.completion", "created": 1700000000, "model": "upstream-model",
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"},
                              "finish_reason": "length"}],
                 "usage": {"prompt_tokens": 11, "completion_tokens": 1, "total_tokens": 12}}


@pytest.mark.parametrize(("stream", "fault"), [
    (False, status(200, LENGTH_ANSWER)),
    (True, status(200, LENGTH_STREAM, SSE)),
])
async def test_completions_native_difference_is_a_mismatch(setup: Setup, stream: bool, fault: Any) -> None:
    """The native leg's upstream alone answers with another finish reason: counted a mismatch."""
    setup.fake.script("sk-native", fault)
    _, _, outcomes = await shadowed(setup, "POST", "/v1/completions",
                                    {"model": "o-alias", "prompt": "say hello", "stream": stream})
    assert outcomes == {"mismatch": 1}


MODEL_GETS = [
    "g-alias", "team/g-alias", "c-alias", "cx/x-alias", "x-alias", "o-alias", "second-model",
    # 404 not_found: excluded, unknown, and a name that already carries "models/".
    "gemini-2.5-pro", "team/gemini-2.5-pro", "nope", "models/g-alias",
]


async def test_gemini_models_match_legacy_in_shadow(setup: Setup) -> None:
    code, answer, outcomes = await shadowed(setup, "GET", "/v1beta/models")
    assert code == 200 and outcomes == {"match": 1}, answer
    names = sorted(model["name"] for model in json.loads(answer)["models"])
    assert names == ["models/c-alias", "models/cx/x-alias", "models/g-alias", "models/o-alias",
                     "models/second-model", "models/team/g-alias", "models/x-alias"]
    results = {}
    for model in MODEL_GETS:
        code, answer, outcomes = await shadowed(setup, "GET", f"/v1beta/models/{model}")
        results[model] = (code, outcomes)
    found = {"g-alias", "team/g-alias", "c-alias", "cx/x-alias", "x-alias", "o-alias", "second-model"}
    assert results == {m: (200 if m in found else 404, {"match": 1}) for m in MODEL_GETS}


async def _native_lists(setup: Setup, model: str) -> bool:
    async with setup.session.get(f"{setup.url}/v1beta/models/{model}", headers=AUTH) as response:
        assert response.headers["X-Quotio-Route"] == "native/native"
        return response.status == 200


async def _mode(setup: Setup, route: str, mode: str) -> None:
    async with setup.session.patch(f"{setup.url}/v0/gateway/flags", headers=mgmt_headers(),
                                   json={"match": route, "mode": mode}) as response:
        assert response.status == 200, await response.text()


async def _answer(setup: Setup, base: str, method: str, path: str, body: Any = None) -> tuple[int, str, bytes]:
    async with setup.session.request(method, base + path, json=body, headers=AUTH) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.read()


def _listed(answer: tuple[int, str, bytes]) -> Any:
    return answer[:2], sorted(json.dumps(model) for model in json.loads(answer[2])["models"])


async def test_native_answers_are_the_legacy_bytes(setup: Setup) -> None:
    """Beyond the structural comparison: with the routes native, each answer is byte for byte the
    stand-in's (the fake upstream's ids and timestamps are fixed; the list, in Go's map order
    there, is compared as a set)."""
    for route in ROUTES:
        await _mode(setup, route, "native")
    differences = {}
    try:
        for body in completion_calls():
            legacy = await _answer(setup, setup.legacy_url, "POST", "/v1/completions", body)
            native = await _answer(setup, setup.url, "POST", "/v1/completions", body)
            if native != legacy:
                differences[json.dumps(body)] = (legacy, native)
        for model in MODEL_GETS:
            legacy = await _answer(setup, setup.legacy_url, "GET", f"/v1beta/models/{model}")
            native = await _answer(setup, setup.url, "GET", f"/v1beta/models/{model}")
            if native != legacy:
                differences[model] = (legacy, native)
        legacy = await _answer(setup, setup.legacy_url, "GET", "/v1beta/models")
        native = await _answer(setup, setup.url, "GET", "/v1beta/models")
        if _listed(native) != _listed(legacy):
            differences["list"] = (legacy, native)
    finally:
        for route in ROUTES:
            await _mode(setup, route, "shadow")
    assert differences == {}


# Upstream answers with the corners of the conversion: odd field types, several choices,
# logprobs (numbers re-encoded as float64), text with characters json.Marshal escapes, a
# role-only, a usage-only and a choice-less chunk, blank and comment lines.
ODD_ANSWER = {"id": 7, "created": "12", "model": None, "usage": {"z": 1, "a": 2}, "choices": [
    {"index": "1", "message": {"role": "assistant", "content": None}, "finish_reason": None, "logprobs": None},
    {"message": {"content": ["a", {"t": 1}]}, "logprobs": {"b": 1.0, "a": [1e-7, 2, 1e21, -0.5]}},
    {"delta": {"content": "if a < b && c > d"}}, {"message": {}}, "junk"]}
ODD_CHUNKS = [
    {"id": "c1", "object": "chat.completion.chunk", "created": 5, "model": "m<1>",
     "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]},
    {"id": "c1", "created": 5.7, "model": "m\u00e9<", "choices": [
        {"index": 1, "delta": {"content": "<a&b> \u2028"}, "finish_reason": None,
         "logprobs": {"content": [{"token": "x", "logprob": -0.5, "bytes": [1, 2]}]}},
        {"delta": {"content": ""}, "finish_reason": "null"}]},
    {"id": "c1", "choices": [{"index": 0, "delta": {"content": None}, "finish_reason": "length"}]},
    {"id": "c1", "choices": [], "usage": {"prompt_tokens": 1}},
    {"id": "c1"},
    {"id": "c1", "choices": [{"index": 0, "delta": {"content": ["x"]}}]},
]
ODD_STREAM = (b"".join(b"data: " + json.dumps(chunk).encode() + b"\n\n" for chunk in ODD_CHUNKS)
              + b"data:\n\ndata: \n\n: comment\n\ndata: [DONE]\n\n")


@pytest.mark.parametrize(("stream", "answer"), [
    (False, status(200, ODD_ANSWER)),
    (False, status(200, {"choices": []})),
    (False, status(200, [1, 2])),
    (True, status(200, ODD_STREAM, SSE)),
    (True, status(200, b"data: [DONE]\n\n", SSE)),
])
async def test_odd_upstream_answers_convert_to_the_legacy_bytes(setup: Setup, stream: bool, answer: Any) -> None:
    await _mode(setup, ROUTES[0], "native")
    try:
        body = {"model": "o-alias", "prompt": "x", "stream": stream}
        setup.fake.script("sk-legacy", answer)
        legacy = await _answer(setup, setup.legacy_url, "POST", "/v1/completions", body)
        setup.fake.script("sk-native", answer)
        native = await _answer(setup, setup.url, "POST", "/v1/completions", body)
    finally:
        await _mode(setup, ROUTES[0], "shadow")
    assert native == legacy


async def test_gemini_models_native_difference_is_a_mismatch(setup: Setup) -> None:
    """Runs last: the gateway's copy of the config gains a Gemini model the legacy never sees."""
    setup.write_config("      - name: gemini-2.5-flash-lite\n        alias: native-only\n")
    # Wait for the gateway's reload by asking its native side directly.
    await _mode(setup, ROUTES[2], "native")
    for _ in range(100):
        if await _native_lists(setup, "native-only"):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the gateway did not reload its config")
    await _mode(setup, ROUTES[2], "shadow")
    code, _, outcomes = await shadowed(setup, "GET", "/v1beta/models")
    assert code == 200 and outcomes == {"mismatch": 1}
    code, _, outcomes = await shadowed(setup, "GET", "/v1beta/models/native-only")
    assert code == 404 and outcomes == {"mismatch": 1}
    report = await shadow_state(setup.session, setup.url)
    assert any(sample["route"] == ROUTES[1] and "native-only" in json.dumps(sample) for sample in report["samples"])


