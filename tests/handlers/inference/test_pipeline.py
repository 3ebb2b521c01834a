"""The pipeline's own rules, independent of any translator: a Claude client on a Claude upstream
through a test-only identity pair (the same protocol on both sides), so every byte asserted here
comes from the pipeline: model lookup, rotation, error answers, stream framing and faults."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp.test_utils import make_mocked_request

from handlers.inference import protocols
from handlers.inference.pair_table import lookup_in
from handlers.inference.pipeline import InferenceCall, _Attempt, _pump
from handlers.inference.runtime import INFERENCE, Candidate
from handlers.inference.translate import StreamTranslator, TranslateInput, Translation
from handlers.models.registry import CredentialRecord
from handlers.providers.base import Executor, PreparedRequest, StreamEvent, UpstreamRequest
from handlers.translation.model import Format
from tests.conftest import eventually
from tests.fakes.llm_upstream import ANSWER, FakeLLM, Fault, status
from tests.handlers.inference.test_faults import freeze_rotation_clock

MODEL = "claude-sonnet-4-5-20250929"
QUOTA_ERROR = {"error": {"type": "rate_limit_error", "message": "slow down"}}
AUTH_ERROR = {"error": {"type": "authentication_error", "message": "bad key"}}


@dataclass
class _Echo:
    """Claude frames re-emitted as they came (what a same-protocol pair does at its simplest)."""

    def feed(self, item: StreamEvent | bytes) -> list[bytes]:
        assert isinstance(item, StreamEvent)
        return [f"event: {item.event}\ndata: {item.data}\n\n".encode()]

    def close(self) -> list[bytes]:
        return []


@dataclass
class _Identity:
    upstream_body: dict[str, Any]
    upstream_stream: bool
    seen: list[bytes] = field(default_factory=list)

    def response(self, upstream: bytes) -> bytes:
        return upstream

    def stream(self) -> StreamTranslator:
        return _Echo()


def _identity(inp: TranslateInput) -> Translation:
    return _Identity(dict(inp.body, model=inp.model), inp.stream)


PAIRS = lookup_in({(Format.CLAUDE, Format.CLAUDE): _identity})


def config(fake: FakeLLM, *keys: str, extra: str = "") -> str:
    entries = "".join(f"  - api-key: {k}\n    base-url: {fake.root}\n" for k in keys)
    return f"claude-api-key:\n{entries}{extra}"


def body(stream: bool = False, **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}],
            **({"stream": True} if stream else {}), **extra}


async def test_non_stream_answer_and_exact_upstream_request(inference_client: Any, fake_llm: FakeLLM) -> None:
    client = await inference_client(config(fake_llm, "k1"), PAIRS)
    resp = await client.post("/v1/messages", json=body())
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/json"
    answer = await resp.json()
    assert answer["content"] == [{"type": "text", "text": ANSWER}]
    [sent] = fake_llm.requests
    assert sent.path == "/v1/messages" and sent.query == {"beta": "true"}
    assert sent.body["model"] == MODEL and sent.key == "k1"


async def test_stream_headers_and_frames(inference_client: Any, fake_llm: FakeLLM) -> None:
    client = await inference_client(config(fake_llm, "k1"), PAIRS)
    resp = await client.post("/v1/messages", json=body(stream=True))
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/event-stream"
    assert resp.headers["Cache-Control"] == "no-cache"
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert resp.headers["Connection"] == "keep-alive"
    text = (await resp.read()).decode()
    assert text.startswith("event: message_start\n")
    assert text.endswith("event: message_stop\ndata: {\"type\": \"message_stop\"}\n\n")


async def test_stream_to_a_client_that_closes_says_connection_close(inference_client: Any,
                                                                   fake_llm: FakeLLM) -> None:
    # Go replaces the handler's ``Connection: keep-alive`` with ``close`` when it will not keep
    # the connection; the SSE header must not claim otherwise.
    client = await inference_client(config(fake_llm, "k1"), PAIRS)
    resp = await client.post("/v1/messages", json=body(stream=True), headers={"Connection": "close"})
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/event-stream"
    assert resp.headers["Connection"] == "close"
    assert (await resp.read()).endswith(b'event: message_stop\ndata: {"type": "message_stop"}\n\n')


async def test_unknown_and_missing_model(inference_client: Any, fake_llm: FakeLLM) -> None:
    client = await inference_client(config(fake_llm, "k1"), PAIRS)
    resp = await client.post("/v1/messages", json=body(model="nope"))
    assert resp.status == 400
    assert await resp.read() == (b'{"error":{"message":"unknown provider for model nope",'
                                 b'"type":"invalid_request_error"}}')
    no_model = body()
    del no_model["model"]
    resp = await client.post("/v1/messages", json=no_model)
    assert resp.status == 400
    assert (await resp.json())["error"]["message"] == "unknown provider for model"
    assert fake_llm.requests == []


async def test_bad_bodies_are_answered_before_any_upstream_call(inference_client: Any, fake_llm: FakeLLM) -> None:
    client = await inference_client(config(fake_llm, "k1"), PAIRS)
    resp = await client.post("/v1/messages", data=b"{not json")
    assert resp.status == 400
    err = (await resp.json())["error"]
    assert err["type"] == "invalid_request_error"
    assert err["message"].startswith("Invalid request: body is not valid JSON")
    resp = await client.post("/v1/messages", data=b"[1, 2]")
    assert resp.status == 400
    assert (await resp.json())["error"]["message"] == "Invalid request: body must be a JSON object"
    resp = await client.post("/v1/messages", json=body(messages=[]))
    assert resp.status == 400
    assert await resp.read() == (b'{"error":{"message":"Invalid request: `messages` must not be empty",'
                                 b'"type":"invalid_request_error"}}')
    assert fake_llm.requests == []


async def test_quota_error_moves_to_the_next_credential(inference_client: Any, fake_llm: FakeLLM) -> None:
    client = await inference_client(config(fake_llm, "k1", "k2"), PAIRS)
    freeze_rotation_clock(client)  # k2's 1 s block must outlast the three requests
    fake_llm.script("k2", status(429, QUOTA_ERROR))
    for _ in range(3):
        resp = await client.post("/v1/messages", json=body())
        assert resp.status == 200
    keys = [r.key for r in fake_llm.requests]
    assert keys.count("k2") == 1 and keys.count("k1") == 3


async def test_all_credentials_cooling_gives_429_with_retry_after(inference_client: Any, fake_llm: FakeLLM) -> None:
    client = await inference_client(config(fake_llm, "k1", "k2"), PAIRS)
    freeze_rotation_clock(client)  # the 1 s blocks must outlast the next request
    fake_llm.script("k1", status(429, QUOTA_ERROR))
    fake_llm.script("k2", status(429, QUOTA_ERROR))
    resp = await client.post("/v1/messages", json=body())
    # The pass ends with the last upstream answer, verbatim.
    assert resp.status == 429 and await resp.json() == QUOTA_ERROR
    resp = await client.post("/v1/messages", json=body())
    # Now both are cooling down: the rotation layer answers without calling upstream.
    assert resp.status == 429
    assert resp.headers["Retry-After"] == "1"
    answer = await resp.json()
    assert answer["error"]["code"] == "model_cooldown"
    assert answer["error"]["message"] == f"All credentials for model {MODEL} are cooling down"
    assert len(fake_llm.requests) == 2


async def test_one_bad_credential_never_reaches_the_client(inference_client: Any, fake_llm: FakeLLM) -> None:
    client = await inference_client(config(fake_llm, "k1", "k2"), PAIRS)
    fake_llm.script("k1", status(401, AUTH_ERROR))
    for _ in range(3):
        resp = await client.post("/v1/messages", json=body())
        assert resp.status == 200
        assert (await resp.json())["content"][0]["text"] == ANSWER
    keys = [r.key for r in fake_llm.requests]
    # k1 failed exactly once and was then cooled down (30 min for a 401): k2 served the rest.
    assert keys.count("k1") == 1 and keys.count("k2") == 3


async def test_bad_request_is_not_retried_and_passes_through(inference_client: Any, fake_llm: FakeLLM) -> None:
    client = await inference_client(config(fake_llm, "k1", "k2"), PAIRS)
    upstream_body = {"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: too big"}}
    fake_llm.script("k1", status(400, upstream_body))
    fake_llm.script("k2", status(400, upstream_body))
    resp = await client.post("/v1/messages", json=body())
    assert resp.status == 400
    assert await resp.json() == upstream_body
    assert len(fake_llm.requests) == 1


GOOGLE_BAD_KEY = {"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                             "status": "INVALID_ARGUMENT",
                             "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                          "reason": "API_KEY_INVALID"}]}}


async def test_a_400_refusing_the_key_moves_to_the_next_credential(inference_client: Any, fake_llm: FakeLLM) -> None:
    # Google answers a bad API key with 400 (compatibility row 3): another key can serve, and with
    # no cooldown for a 400 the bad key keeps its turn, costing one call, as in the legacy.
    client = await inference_client(config(fake_llm, "k1", "k2"), PAIRS)
    fake_llm.script("k1", status(400, GOOGLE_BAD_KEY), status(400, GOOGLE_BAD_KEY))
    for _ in range(2):
        resp = await client.post("/v1/messages", json=body())
        assert resp.status == 200
        assert (await resp.json())["content"][0]["text"] == ANSWER
    keys = [r.key for r in fake_llm.requests]
    # Each call k1 refused went on to k2 within the same request, and k1 was not cooled: its
    # turn comes round again (where the rotation starts depends on the selector's cursor).
    assert keys.count("k2") == 2 and keys.count("k1") >= 1
    assert all(keys[i + 1] == "k2" for i, key in enumerate(keys) if key == "k1")
    assert fake_llm.requests and len(keys) == 2 + keys.count("k1")


NO_CREDIT = {"type": "error", "error": {"type": "invalid_request_error",
                                        "message": "Your credit balance is too low to access the Anthropic API. "
                                                   "Please go to Plans & Billing to upgrade or purchase credits."}}


async def test_an_account_without_credit_moves_to_the_next_credential(inference_client: Any,
                                                                      fake_llm: FakeLLM) -> None:
    # Anthropic's 400 for an account without credit is the account's problem, not the request's.
    client = await inference_client(config(fake_llm, "k1", "k2"), PAIRS)
    fake_llm.script("k1", status(400, NO_CREDIT), status(400, NO_CREDIT))
    for _ in range(2):
        resp = await client.post("/v1/messages", json=body())
        assert resp.status == 200
        assert (await resp.json())["content"][0]["text"] == ANSWER
    keys = [r.key for r in fake_llm.requests]
    assert keys.count("k2") == 2
    assert all(keys[i + 1] == "k2" for i, key in enumerate(keys) if key == "k1")


async def test_every_key_refused_gives_the_last_400(inference_client: Any, fake_llm: FakeLLM) -> None:
    client = await inference_client(config(fake_llm, "k1", "k2"), PAIRS)
    fake_llm.script("k1", status(400, GOOGLE_BAD_KEY))
    fake_llm.script("k2", status(400, GOOGLE_BAD_KEY))
    resp = await client.post("/v1/messages", json=body())
    assert resp.status == 400
    assert await resp.json() == GOOGLE_BAD_KEY
    assert sorted(r.key for r in fake_llm.requests) == ["k1", "k2"]


async def test_non_json_upstream_error_is_wrapped(inference_client: Any, fake_llm: FakeLLM) -> None:
    client = await inference_client(config(fake_llm, "k1"), PAIRS)
    fake_llm.script("k1", status(503, b"upstream overloaded"))
    resp = await client.post("/v1/messages", json=body())
    assert resp.status == 503
    assert await resp.read() == (b'{"error":{"message":"upstream overloaded","type":"server_error",'
                                 b'"code":"internal_server_error"}}')


async def test_stream_error_before_first_byte_is_plain_json(inference_client: Any, fake_llm: FakeLLM) -> None:
    client = await inference_client(config(fake_llm, "k1"), PAIRS)
    fake_llm.script("k1", status(500, {"error": {"message": "boom"}}))
    resp = await client.post("/v1/messages", json=body(stream=True))
    assert resp.status == 500
    assert resp.headers["Content-Type"] == "application/json"
    assert await resp.json() == {"error": {"message": "boom"}}


async def test_stream_cut_early_ends_with_claude_error_frame(inference_client: Any, fake_llm: FakeLLM) -> None:
    client = await inference_client(config(fake_llm, "k1"), PAIRS)
    fake_llm.script("k1", Fault("cut", after=3))
    resp = await client.post("/v1/messages", json=body(stream=True))
    assert resp.status == 200
    text = (await resp.read()).decode()
    assert text.count("event: content_block_delta") == 1
    last = text.rstrip("\n").split("\n\n")[-1]
    assert last == ('event: error\ndata: {"type":"error","error":{"type":"api_error",'
                    '"message":"upstream stream closed before message_stop"}}')


async def test_a_line_that_is_not_json_then_the_end_is_a_stream_cut_short(inference_client: Any,
                                                                          fake_llm: FakeLLM) -> None:
    # The line is passed over (the legacy finds nothing in it); the stream then ends without
    # message_stop, which is what the client is told.
    client = await inference_client(config(fake_llm, "k1"), PAIRS)
    fake_llm.script("k1", Fault("malformed", after=2))
    resp = await client.post("/v1/messages", json=body(stream=True))
    text = (await resp.read()).decode()
    assert text.rstrip("\n").split("\n\n")[-1] == (
        'event: error\ndata: {"type":"error","error":{"type":"api_error",'
        '"message":"upstream stream closed before message_stop"}}')


async def test_stream_reset_mid_way_ends_with_error_frame(inference_client: Any, fake_llm: FakeLLM) -> None:
    client = await inference_client(config(fake_llm, "k1"), PAIRS)
    fake_llm.script("k1", Fault("reset", after=2))
    resp = await client.post("/v1/messages", json=body(stream=True))
    text = (await resp.read()).decode()
    assert text.startswith("event: message_start")
    assert text.rstrip("\n").split("\n\n")[-1].startswith('event: error\ndata: {"type":"error"')


async def test_client_auth_answers(inference_client: Any, fake_llm: FakeLLM) -> None:
    client = await inference_client(config(fake_llm, "k1", extra="api-keys: [client-key]\n"), PAIRS)
    resp = await client.post("/v1/messages", json=body())
    assert resp.status == 401 and await resp.read() == b'{"error":"Missing API key"}'
    resp = await client.post("/v1/messages", json=body(), headers={"x-api-key": "wrong"})
    assert resp.status == 401 and await resp.read() == b'{"error":"Invalid API key"}'
    resp = await client.post("/v1/messages", json=body(), headers={"x-api-key": "client-key"})
    assert resp.status == 200
    assert fake_llm.requests[0].key == "k1"


async def test_client_disconnect_cancels_the_upstream(inference_client: Any, fake_llm: FakeLLM) -> None:
    client = await inference_client(config(fake_llm, "k1"), PAIRS)
    fake_llm.script("k1", Fault("stall", seconds=5))
    task = asyncio.ensure_future(client.post("/v1/messages", json=body(stream=True)))
    await eventually(lambda: bool(fake_llm.requests))
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await eventually(lambda: bool(fake_llm.cancelled))
    # The upstream handler saw its client (the gateway) go away instead of finishing its stall.
    assert fake_llm.cancelled == 1 and len(fake_llm.requests) == 1


async def test_no_translator_is_a_server_error(inference_client: Any, fake_llm: FakeLLM) -> None:
    client = await inference_client(config(fake_llm, "k1"), lookup_in({}))
    resp = await client.post("/v1/messages", json=body())
    assert resp.status == 500
    assert json.loads(await resp.read())["error"]["message"] == "no translator from claude to claude"


async def test_higher_priority_credential_serves_first(inference_client: Any, fake_llm: FakeLLM) -> None:
    cfg = (f"claude-api-key:\n  - api-key: low\n    base-url: {fake_llm.root}\n"
           f"  - api-key: high\n    base-url: {fake_llm.root}\n    priority: 10\n")
    client = await inference_client(cfg, PAIRS)
    for _ in range(3):
        assert (await client.post("/v1/messages", json=body())).status == 200
    # Round-robin works within the best priority bucket only.
    assert [r.key for r in fake_llm.requests] == ["high", "high", "high"]
    fake_llm.script("high", status(429, QUOTA_ERROR))
    assert (await client.post("/v1/messages", json=body())).status == 200
    # The cooled-down high-priority key leaves the bucket; the low one serves.
    assert [r.key for r in fake_llm.requests[3:]] == ["high", "low"]


# --- how _pump groups its writes ----------------------------------------------------------------


class _ChunkedStream:
    """Stands in for ``UpstreamStream``: (event, events still pending from its chunk) pairs, then
    optionally a failure, as the real stream raises it."""

    def __init__(self, items: list[tuple[StreamEvent, int]], failure: Exception | None = None) -> None:
        self.items = items
        self.failure = failure
        self.pending = 0

    async def __aenter__(self) -> _ChunkedStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def __aiter__(self) -> Any:
        for event, pending in self.items:
            self.pending = pending
            yield event
        if self.failure is not None:
            raise self.failure


class _NoPendingStream(_ChunkedStream):
    """A wrapping stream (OAuth mapper, Kiro) that does not say what is pending."""

    def __getattribute__(self, name: str) -> Any:
        if name == "pending":
            raise AttributeError(name)
        return super().__getattribute__(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name != "pending":
            super().__setattr__(name, value)


class _EchoTranslator:
    def feed(self, item: StreamEvent | bytes) -> list[bytes]:
        assert isinstance(item, StreamEvent)
        return [item.data.encode()] if item.data else []

    def close(self) -> list[bytes]:
        return [b"|end"]


class _RecordingWriter:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    async def write(self, frames: list[bytes]) -> None:
        if frames:
            self.writes.append(b"".join(frames))

    async def finish(self, frames: list[bytes]) -> None:
        await self.write(frames)


def _ev(data: str) -> StreamEvent:
    return StreamEvent("", data, {})


async def _pump_writes(stream: _ChunkedStream) -> tuple[list[bytes], Exception | None]:
    writer = _RecordingWriter()
    try:
        async for _ in _pump(_EchoTranslator(), stream, writer):  # type: ignore[arg-type]
            pass
    except Exception as exc:  # the test inspects whatever the pump raised
        return writer.writes, exc
    return writer.writes, None


async def test_pump_writes_once_per_upstream_chunk() -> None:
    # Chunk 1: a, b (nothing out), c; chunk 2: d; then the translator's closing frames.
    stream = _ChunkedStream([(_ev("a"), 3), (_ev(""), 2), (_ev("b"), 1), (_ev("c"), 0), (_ev("d"), 0)])
    assert await _pump_writes(stream) == ([b"abc", b"d", b"|end"], None)


async def test_pump_writes_held_frames_before_a_failure_surfaces() -> None:
    failure = ValueError("bad event")
    writes, raised = await _pump_writes(_ChunkedStream([(_ev("a"), 2), (_ev("b"), 1)], failure))
    assert writes == [b"ab"] and raised is failure


async def test_pump_writes_each_event_of_a_stream_without_pending() -> None:
    stream = _NoPendingStream([(_ev("a"), 2), (_ev("b"), 1), (_ev("c"), 0)])
    assert await _pump_writes(stream) == ([b"a", b"b", b"c", b"|end"], None)


async def test_auto_moves_past_a_model_whose_only_credential_is_cooling(inference_client: Any,
                                                                         fake_llm: FakeLLM) -> None:
    client = await inference_client(config(fake_llm, "k1"), PAIRS)
    resp = await client.post("/v1/messages", json=body(model="auto"))
    assert resp.status == 200
    newest = fake_llm.requests[-1].body["model"]
    fake_llm.script("k1", status(429, QUOTA_ERROR))
    resp = await client.post("/v1/messages", json=body(model=newest))
    assert resp.status == 429
    # The legacy's GetFirstAvailableModel skips a model with no usable client left.
    resp = await client.post("/v1/messages", json=body(model="auto"))
    assert resp.status == 200
    assert fake_llm.requests[-1].body["model"] not in (newest, "auto")


def _advance_rotation_clock(client: Any, seconds: float) -> None:
    state = client.server.app[INFERENCE].state
    now = state.clock()
    state.clock = lambda: now + seconds


async def _listed_ids(client: Any) -> list[str]:
    resp = await client.get("/v1/models")
    assert resp.status == 200
    return [entry["id"] for entry in (await resp.json())["data"]]


async def test_quota_suspension_then_401_keeps_the_model_listed(inference_client: Any, fake_llm: FakeLLM) -> None:
    # The legacy registry keeps the first suspension reason (model_registry.go:638): "quota",
    # which never hides a model, so the later 401 does not take it off /v1/models.
    client = await inference_client(config(fake_llm, "k1"), PAIRS)
    fake_llm.script("k1", status(429, QUOTA_ERROR), status(401, AUTH_ERROR))
    resp = await client.post("/v1/messages", json=body())
    assert resp.status == 429 and await resp.json() == QUOTA_ERROR
    _advance_rotation_clock(client, 2)  # past the 1 s quota cooldown
    resp = await client.post("/v1/messages", json=body())
    assert resp.status == 401 and await resp.json() == AUTH_ERROR
    assert MODEL in await _listed_ids(client)


async def test_401_suspension_then_quota_keeps_the_model_hidden(inference_client: Any, fake_llm: FakeLLM) -> None:
    client = await inference_client(config(fake_llm, "k1"), PAIRS)
    fake_llm.script("k1", status(401, AUTH_ERROR), status(429, QUOTA_ERROR))
    resp = await client.post("/v1/messages", json=body())
    assert resp.status == 401 and await resp.json() == AUTH_ERROR
    assert MODEL not in await _listed_ids(client)
    _advance_rotation_clock(client, 1801)  # past the 30 min 401 cooldown
    resp = await client.post("/v1/messages", json=body())
    assert resp.status == 429 and await resp.json() == QUOTA_ERROR
    # Still suspended as "unauthorized": the quota answer does not bring the model back.
    assert MODEL not in await _listed_ids(client)
    _advance_rotation_clock(client, 1803)  # past the 1 s quota cooldown
    resp = await client.post("/v1/messages", json=body())
    assert resp.status == 200  # a success resumes the credential
    assert MODEL in await _listed_ids(client)


PAYLOAD_RULES = """payload:
  default:
    - models: [{name: "gemini-2.5-*", protocol: gemini}]
      params: {"generationConfig.thinkingConfig.thinkingBudget": 1024, "generationConfig.temperature": 0.3}
  override:
    - models: [{name: "gemini-2.5-pro", protocol: antigravity}]
      params: {"generationConfig.topK": 7}
"""


class _FormatOnly(Executor):
    """An executor with the base hooks, as the Gemini CLI and Antigravity ones have, and the
    upstream format ``upstream_format`` reads; translation never sends anything."""

    def __init__(self, upstream: Format) -> None:
        super().__init__(client=None)  # type: ignore[arg-type]
        self.format = upstream

    def prepare(self, credential: Any, request: UpstreamRequest) -> PreparedRequest:
        raise AssertionError("translation only: nothing is sent")


async def _upstream_body(client: Any, provider: str, upstream: Format, model: str) -> dict[str, Any]:
    """The body ``_Attempt.translate`` hands the executor of a ``provider`` OAuth credential."""
    runtime = client.server.app[INFERENCE]
    registry = runtime.registry.current
    runtime.executor_for = lambda candidate: _FormatOnly(upstream)
    request = make_mocked_request("POST", "/v1/chat/completions")
    call = InferenceCall(protocols.OPENAI_CHAT, {"model": model, "messages": [{"role": "user", "content": "hi"}]},
                         model, stream=False)
    _, resolved = registry.resolve(model, runtime.pick_auto)
    attempt = _Attempt(request, runtime, registry, call, resolved)
    _, sent = attempt.translate(Candidate(f"{provider}.json", 0, provider, object()))
    return sent.body


async def test_payload_rules_on_envelope_upstreams_match_the_inner_request(inference_client: Any) -> None:
    # gemini_cli_executor.go:132 and antigravity_executor.go:145: protocol "gemini" (resp.
    # "antigravity") with every path under "request"; defaults checked against the translated
    # client body before thinking, so the default budget replaces the suffix's 8192.
    records = [CredentialRecord("gemini-cli", id="gemini-cli.json"),
               CredentialRecord("antigravity", id="antigravity.json")]
    client = await inference_client(PAYLOAD_RULES, records=records)
    cli = await _upstream_body(client, "gemini-cli", Format.GEMINI_CLI, "gemini-2.5-pro(8192)")
    assert "generationConfig" not in cli
    assert cli["request"]["generationConfig"] == {"thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True},
                                                  "temperature": 0.3}
    agy = await _upstream_body(client, "antigravity", Format.ANTIGRAVITY, "gemini-2.5-pro")
    assert "generationConfig" not in agy
    # The default rules name protocol "gemini": not antigravity's; the override names it.
    assert agy["request"]["generationConfig"] == {"topK": 7}


async def test_a_keys_cloak_block_decides_the_cloaking(inference_client: Any, fake_llm: FakeLLM) -> None:
    """The runtime hands the Claude executor each key's ``cloak`` settings (the legacy's
    resolveClaudeKeyCloakConfig): ``never`` leaves an SDK client's body alone, the default
    (``auto``) cloaks it, ``strict-mode`` keeps only Claude Code's system line."""
    text = (f"claude-api-key:\n"
            f"  - api-key: plain\n    base-url: {fake_llm.root}\n    cloak: {{mode: never}}\n"
            f"  - api-key: strict\n    base-url: {fake_llm.root}\n    cloak: {{mode: always, strict-mode: true}}\n")
    client = await inference_client(text, PAIRS)
    line = {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."}
    seen: dict[str, Any] = {}
    for _ in range(2):  # round-robin over both keys
        resp = await client.post("/v1/messages", json=body(system="Be brief."))
        assert resp.status == 200
        sent = fake_llm.requests[-1]
        seen[sent.key] = sent.body
    assert seen["plain"]["system"] == "Be brief." and "metadata" not in seen["plain"]
    assert seen["strict"]["system"] == [line]
    assert seen["strict"]["metadata"]["user_id"].startswith("user_")


async def test_count_requests_get_no_payload_rules_and_claude_no_thinking(inference_client: Any,
                                                                          fake_llm: FakeLLM) -> None:
    """Every legacy CountTokens skips the payload rules; Claude's also skips thinking
    (claude_executor.go:384-415), while a message request gets both."""
    extra = ("payload:\n  override:\n    - models:\n        - name: \"claude-*\"\n"
             "      params:\n        temperature: 0.25\n")
    client = await inference_client(config(fake_llm, "k1", extra=extra), PAIRS)
    fake_llm.script("k1", status(200, {"input_tokens": 7}))
    resp = await client.post("/v1/messages/count_tokens", json=body(model=f"{MODEL}(8192)"))
    assert resp.status == 200 and await resp.json() == {"input_tokens": 7}
    counted = fake_llm.requests[-1]
    assert counted.path == "/v1/messages/count_tokens"
    assert "temperature" not in counted.body and "thinking" not in counted.body
    resp = await client.post("/v1/messages", json=body(model=f"{MODEL}(8192)"))
    assert resp.status == 200
    sent = fake_llm.requests[-1].body
    assert sent["temperature"] == 0.25 and sent["thinking"] == {"type": "enabled", "budget_tokens": 8192}


async def test_counting_on_iflow_and_qwen_skips_the_thinking_step(inference_client: Any) -> None:
    # iflow_executor.go and qwen_executor.go CountTokens translate and count: no ApplyThinking,
    # where their generate calls (and every other upstream's count but Claude's) apply it.
    from handlers.providers.oauth_openai_chat import IFlowExecutor, QwenExecutor
    from handlers.providers.openai_compat import OpenAICompatExecutor

    assert (IFlowExecutor.thinking_on_count, QwenExecutor.thinking_on_count,
            OpenAICompatExecutor.thinking_on_count) == (False, False, True)
    client = await inference_client("", records=[CredentialRecord("iflow", id="iflow.json")])
    runtime = client.server.app[INFERENCE]
    registry = runtime.registry.current
    runtime.executor_for = lambda candidate: IFlowExecutor(client=None)  # type: ignore[arg-type]

    def sent(action: str) -> dict[str, Any]:
        body = {"model": "glm-4.6(high)", "messages": [{"role": "user", "content": "hi"}]}
        call = InferenceCall(protocols.OPENAI_CHAT, body, "glm-4.6(high)", stream=False, action=action)
        _, resolved = registry.resolve("glm-4.6(high)", runtime.pick_auto)
        attempt = _Attempt(make_mocked_request("POST", "/v1/chat/completions"), runtime, registry, call, resolved)
        return attempt.translate(Candidate("iflow.json", 0, "iflow", object()))[1].body

    generate, count = sent(""), sent("countTokens")
    assert set(generate) - set(count), "the generate call carries iFlow's thinking fields"
    # The count reads the base model from the request, not the body, whose name keeps its suffix.
    assert count["messages"] == generate["messages"] and count["model"] == "glm-4.6(high)"
    assert set(count) == {"model", "messages"}
