"""Both counting endpoints against every API-key upstream kind: the exact answer bytes, and what
went upstream (or that nothing did, where the legacy counts locally).

The answers are the count translators' fixed forms (``ClaudeTokenCount`` / ``GeminiTokenCount``
in every ``internal/translator/<upstream>/<client>``), except Claude -> Claude, which has no
translator and hands the upstream's body on as it came (claude_executor.go:468-470).
"""

from __future__ import annotations

from typing import Any

import pytest

from handlers.providers.base import credentials_from_config
from tests.fakes.llm_upstream import FakeLLM, status
from tests.handlers.inference.test_faults import (
    CLAUDE_MODEL,
    CODEX_MODEL,
    COMPAT_MODEL,
    GEMINI_BODY,
    GEMINI_MODEL,
    MakeGateway,
    claude,
    runtime_of,
    upstreams_config,
)


def gemini_answer(count: int) -> bytes:
    return (b'{"totalTokens":%d,"promptTokensDetails":[{"modality":"TEXT","tokenCount":%d}]}'
            % (count, count))


# (model, answer to a Claude client, answer to a Gemini client, the upstream path or None).
# The fake answers 11 where it counts. The local counts are o200k_base: OpenAI-format upstreams
# count roles too, and the Claude translation always opens with a system message (content [],
# openai_claude_request.go:91-110), so "system\nuser\nhi" is 5 tokens and a Gemini client's
# "user\nhi" 3; Codex counts texts only, "hi" is 1.
CASES: list[tuple[str, bytes, bytes, str | None]] = [
    # web.json_response's own spacing: the Claude body reaches a Claude client untouched.
    (CLAUDE_MODEL, b'{"input_tokens": 11}', gemini_answer(11), "/v1/messages/count_tokens"),
    (GEMINI_MODEL, b'{"input_tokens":11}', gemini_answer(11), f"/v1beta/models/{GEMINI_MODEL}:countTokens"),
    (CODEX_MODEL, b'{"input_tokens":1}', gemini_answer(1), None),
    (COMPAT_MODEL, b'{"input_tokens":5}', gemini_answer(3), None),
]


@pytest.mark.parametrize(("model", "for_claude", "for_gemini", "path"), CASES)
async def test_count_answers(gateway: MakeGateway, fake_llm: FakeLLM, model: str, for_claude: bytes,
                             for_gemini: bytes, path: str | None) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    calls: list[tuple[str, bytes, dict[str, Any]]] = [
        ("/v1/messages/count_tokens", for_claude, claude(model)),
        (f"/v1beta/models/{model}:countTokens", for_gemini, dict(GEMINI_BODY)),
    ]
    for url, expected, body in calls:
        resp = await client.post(url, json=body)
        assert resp.status == 200, await resp.text()
        assert resp.headers["Content-Type"] == "application/json"
        assert await resp.read() == expected
    assert [r.path for r in fake_llm.requests] == ([path, path] if path else [])


async def test_claude_upstream_gets_the_stream_translation_from_a_gemini_client(gateway: MakeGateway,
                                                                                fake_llm: FakeLLM) -> None:
    # claude_executor.go:391-394: "Use streaming translation to preserve function calling".
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post(f"/v1beta/models/{CLAUDE_MODEL}:countTokens?alt=json", json=GEMINI_BODY)
    assert resp.status == 200
    [sent] = fake_llm.requests
    assert sent.query == {"beta": "true"}
    assert sent.body["stream"] is True and sent.body["model"] == CLAUDE_MODEL
    assert sent.headers["Accept"] == "application/json"


async def test_a_failed_upstream_count_is_answered_with_its_status_and_body(gateway: MakeGateway,
                                                                            fake_llm: FakeLLM) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    error = b'{"error":{"code":403,"message":"denied","status":"PERMISSION_DENIED"}}'
    fake_llm.script("sk-gemini", status(403, error))
    resp = await client.post("/v1/messages/count_tokens", json=claude(GEMINI_MODEL))
    assert resp.status == 403
    assert await resp.read() == error


async def test_a_refused_count_moves_to_the_next_credential_and_cools_the_first(gateway: MakeGateway,
                                                                                fake_llm: FakeLLM) -> None:
    # conductor.go:617-664 (executeCountMixedOnce): the same pick / MarkResult / next-credential
    # loop as Execute, so a 429 on a count cools that key down for the model like any other call.
    client = await gateway(upstreams_config(fake_llm.root, gemini_keys=("sk-g1", "sk-g2")))
    first = await client.post(f"/v1beta/models/{GEMINI_MODEL}:countTokens", json=GEMINI_BODY)
    assert first.status == 200
    starter = fake_llm.requests[0].key
    other = "sk-g2" if starter == "sk-g1" else "sk-g1"
    fake_llm.requests.clear()
    fake_llm.script(starter, status(429, {"error": {"code": 429, "message": "quota"}}))
    fake_llm.script(other, status(429, {"error": {"code": 429, "message": "quota"}}))
    resp = await client.post("/v1/messages/count_tokens", json=claude(GEMINI_MODEL))
    # Round-robin starts on the other key now; both refuse, so the last refusal is the answer.
    assert resp.status == 429
    assert await resp.read() == b'{"error": {"code": 429, "message": "quota"}}'
    assert sorted(r.key for r in fake_llm.requests) == ["sk-g1", "sk-g2"]
    # Both keys hold a quota cooldown for the model, as after any other call. (Read from the
    # state, not from a next request: a hint-less 429 cools for one second only, which a slow
    # machine could outlast.)
    state = runtime_of(client).state
    gemini_ids = [c.id for c in credentials_from_config(runtime_of(client).config) if c.provider == "gemini"]
    assert len(gemini_ids) == 2
    for credential_id in gemini_ids:
        got = state.get(credential_id, GEMINI_MODEL)
        assert got is not None and got.last_status == 429 and got.next_retry_after is not None


async def test_vertex_api_key_counts_at_the_publishers_path(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    """gemini_vertex_executor.go:852-932 (countTokensWithAPIKey): the Gemini translation under the
    entry's upstream name, ``tools``, ``generationConfig`` and ``safetySettings`` dropped, posted to
    ``{base}/v1/publishers/google/models/<model>:countTokens`` with the key as ``x-goog-api-key``;
    ``totalTokens`` comes back in the client's count shape."""
    config = upstreams_config(fake_llm.root) + (
        f"vertex-api-key:\n  - api-key: sk-vertex\n    base-url: {fake_llm.root}\n"
        "    models:\n      - name: gemini-2.5-pro\n        alias: vx-pro\n")
    client = await gateway(config)
    gemini_body = {**GEMINI_BODY, "systemInstruction": {"parts": [{"text": "sys"}]},
                   "tools": [{"functionDeclarations": [{"name": "f", "parameters": {"type": "object"}}]}],
                   "generationConfig": {"temperature": 0.5}, "safetySettings": [{"category": "c", "threshold": "t"}]}
    resp = await client.post("/v1beta/models/vx-pro:countTokens", json=gemini_body)
    assert resp.status == 200 and resp.headers["Content-Type"] == "application/json"
    assert await resp.read() == gemini_answer(11)
    resp = await client.post("/v1/messages/count_tokens", json=claude("vx-pro", system="be brief"))
    assert resp.status == 200
    assert await resp.read() == b'{"input_tokens":11}'
    path = "/v1/publishers/google/models/gemini-2.5-pro:countTokens"
    assert [(r.path, r.query, r.key) for r in fake_llm.requests] == [(path, {}, "sk-vertex")] * 2
    contents = GEMINI_BODY["contents"]
    assert [r.body for r in fake_llm.requests] == [
        {"contents": contents, "systemInstruction": {"parts": [{"text": "sys"}]}, "model": "gemini-2.5-pro"},
        {"contents": contents, "model": "gemini-2.5-pro", "system_instruction": {"parts": [{"text": "be brief"}]}},
    ]
