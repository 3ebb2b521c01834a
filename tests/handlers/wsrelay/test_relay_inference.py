"""Client requests served by a relay client connected at /v1/ws (real sockets both ways)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from handlers.logfiles.request_log_writer import UPSTREAM_LOG_KEY
from tests.conftest import eventually
from tests.handlers.wsrelay.conftest import FakeRelay, MakeGateway, json_answer

MODEL = "gemini-pro-latest"  # only the AI Studio catalogue has it
BASE = "https://generativelanguage.googleapis.com/v1beta/models"
ANSWER = {"candidates": [{"content": {"role": "model", "parts": [{"text": "hello from the relay"}]},
                          "finishReason": "STOP", "index": 0}],
          "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4, "totalTokenCount": 7},
          "modelVersion": MODEL}
GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
               "generationConfig": {"temperature": 0.5, "maxOutputTokens": 64, "responseMimeType": "text/plain"}}


def sse_chunks() -> list[tuple[str, dict[str, Any] | None]]:
    first = {"candidates": [{"content": {"role": "model", "parts": [{"text": "hel"}]}, "index": 0}]}
    last = {"candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]}, "finishReason": "STOP",
                            "index": 0}],
            "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5}}
    text = f"data: {orjson.dumps(first).decode()}\r\n\r\ndata: {orjson.dumps(last).decode()}\r\n\r\n"
    # Split inside an event: the relay forwards fetch() body chunks wherever they fall.
    cut = len(text) // 2 + 3
    return [("stream_start", {"status": 200, "headers": {"Content-Type": ["text/event-stream"]}}),
            ("stream_chunk", {"data": text[:cut]}), ("stream_chunk", {"data": text[cut:]}),
            ("stream_end", None)]


async def test_generate_content_goes_to_the_relay_as_an_http_request(relay_gateway: MakeGateway) -> None:
    gw = await relay_gateway()
    relay = await gw.connect(json_answer(ANSWER))
    resp = await gw.client.post(f"/v1beta/models/{MODEL}:generateContent", json=GEMINI_BODY)
    assert resp.status == 200
    assert (await resp.json())["candidates"][0]["content"]["parts"][0]["text"] == "hello from the relay"
    [sent] = relay.requests
    payload = sent["payload"]
    assert payload["method"] == "POST"
    assert payload["url"] == f"{BASE}/{MODEL}:generateContent"
    assert payload["headers"] == {"Content-Type": ["application/json"]}
    body = orjson.loads(payload["body"])
    # aistudio_executor.go drops these three and sends no model field.
    assert body["generationConfig"] == {"temperature": 0.5}
    assert "model" not in body
    assert body["contents"] == GEMINI_BODY["contents"]
    assert isinstance(payload["sent_at"], str) and payload["sent_at"].endswith("Z")


async def test_stream_chunks_reach_the_client_as_sse(relay_gateway: MakeGateway) -> None:
    gw = await relay_gateway()
    relay = await gw.connect(lambda _: sse_chunks())
    resp = await gw.client.post(f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse", json=GEMINI_BODY)
    assert resp.status == 200
    text = (await resp.read()).decode()
    events = [orjson.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
    assert "".join(e["candidates"][0]["content"]["parts"][0]["text"] for e in events) == "hello"
    assert relay.requests[0]["payload"]["url"] == f"{BASE}/{MODEL}:streamGenerateContent?alt=sse"


async def test_a_non_stream_request_folds_stream_frames(relay_gateway: MakeGateway) -> None:
    # Manager.NonStream: a relay that answers with stream frames still gives one whole answer.
    gw = await relay_gateway()
    await gw.connect(lambda _: [("stream_start", {"status": 200}),
                                ("stream_chunk", {"data": orjson.dumps(ANSWER).decode()[:20]}),
                                ("stream_chunk", {"data": orjson.dumps(ANSWER).decode()[20:]}),
                                ("stream_end", None)])
    resp = await gw.client.post(f"/v1beta/models/{MODEL}:generateContent", json=GEMINI_BODY)
    assert resp.status == 200
    assert (await resp.json())["candidates"][0]["content"]["parts"][0]["text"] == "hello from the relay"


async def test_openai_chat_is_translated_to_gemini_and_back(relay_gateway: MakeGateway) -> None:
    gw = await relay_gateway()
    relay = await gw.connect(json_answer(ANSWER))
    resp = await gw.client.post("/v1/chat/completions",
                                json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]})
    assert resp.status == 200
    answer = await resp.json()
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["content"] == "hello from the relay"
    assert answer["usage"]["total_tokens"] == 7
    body = orjson.loads(relay.requests[0]["payload"]["body"])
    assert body["contents"][0]["parts"][0]["text"] == "hi"


async def test_openai_chat_stream_is_translated(relay_gateway: MakeGateway) -> None:
    gw = await relay_gateway()
    await gw.connect(lambda _: sse_chunks())
    resp = await gw.client.post("/v1/chat/completions", json={
        "model": MODEL, "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    assert resp.status == 200
    lines = [line[6:] for line in (await resp.read()).decode().splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    chunks = [orjson.loads(line) for line in lines[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))
    assert text == "hello"


async def test_count_tokens_drops_generation_fields_and_reads_total(relay_gateway: MakeGateway) -> None:
    gw = await relay_gateway()
    relay = await gw.connect(json_answer({"totalTokens": 9}))
    resp = await gw.client.post(f"/v1beta/models/{MODEL}:countTokens", json=GEMINI_BODY)
    assert resp.status == 200
    assert (await resp.json())["totalTokens"] == 9
    payload = relay.requests[0]["payload"]
    assert payload["url"] == f"{BASE}/{MODEL}:countTokens"
    assert "generationConfig" not in orjson.loads(payload["body"])


async def test_an_upstream_error_status_passes_through(relay_gateway: MakeGateway) -> None:
    error = {"error": {"code": 400, "message": "bad field", "status": "INVALID_ARGUMENT"}}
    gw = await relay_gateway()
    await gw.connect(json_answer(error, status=400))
    resp = await gw.client.post(f"/v1beta/models/{MODEL}:generateContent", json=GEMINI_BODY)
    assert resp.status == 400
    assert await resp.json() == error


async def test_a_stream_whose_first_frame_fails_answers_that_status(relay_gateway: MakeGateway) -> None:
    error = {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}}
    text = orjson.dumps(error).decode()
    gw = await relay_gateway()
    await gw.connect(lambda _: [("stream_start", {"status": 429}), ("stream_chunk", {"data": text[:10]}),
                                ("stream_chunk", {"data": text[10:]}), ("stream_end", None)])
    resp = await gw.client.post(f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse", json=GEMINI_BODY)
    assert resp.status == 429
    assert await resp.json() == error


async def test_an_error_frame_fails_the_request(relay_gateway: MakeGateway) -> None:
    gw = await relay_gateway()
    await gw.connect(lambda _: [("error", {"error": "fetch failed", "status": 502})])
    resp = await gw.client.post(f"/v1beta/models/{MODEL}:generateContent", json=GEMINI_BODY)
    assert resp.status == 500
    assert "fetch failed (status=502)" in (await resp.text())


async def test_a_json_ping_gets_a_pong_with_its_id(relay_gateway: MakeGateway) -> None:
    gw = await relay_gateway()
    relay = await gw.connect(json_answer(ANSWER))
    await relay.ws.send_str('{"id":"p-1","type":"ping"}')
    await eventually(lambda: bool(relay.frames), within=10.0, what="a pong")
    assert relay.frames == [{"id": "p-1", "type": "pong"}]


async def test_disconnect_removes_the_provider(relay_gateway: MakeGateway) -> None:
    gw = await relay_gateway()
    path = f"/v1beta/models/{MODEL}:generateContent"
    before = await gw.client.post(path, json=GEMINI_BODY)
    unknown = (before.status, await before.read())
    assert unknown == (400, orjson.dumps({"error": {"message": f"unknown provider for model {MODEL}",
                                                    "type": "invalid_request_error"}}))
    relay = await gw.connect(json_answer(ANSWER))
    models = await (await gw.client.get("/v1/models")).json()
    assert MODEL in {m["id"] for m in models["data"]}
    await relay.close()
    await eventually(lambda: not gw.manager.channels, within=10.0, what="the session ended")
    after = await gw.client.post(path, json=GEMINI_BODY)
    assert (after.status, await after.read()) == unknown
    models = await (await gw.client.get("/v1/models")).json()
    assert MODEL not in {m["id"] for m in models["data"]}


async def test_a_request_in_flight_fails_when_the_relay_goes(relay_gateway: MakeGateway) -> None:
    gw = await relay_gateway()
    relay: FakeRelay = await gw.connect(json_answer(ANSWER))
    relay.hold = True
    pending = gw.client.post(f"/v1beta/models/{MODEL}:generateContent", json=GEMINI_BODY)
    import asyncio

    task = asyncio.ensure_future(pending)
    await eventually(lambda: bool(relay.requests), within=10.0, what="the request reached the relay")
    await relay.close()
    resp = await task
    assert resp.status == 500
    assert "websocket session closed" in await resp.text()


async def test_a_stream_answered_with_one_whole_response_is_one_event(relay_gateway: MakeGateway) -> None:
    # ExecuteStream passes an http_response's body to the translator as the stream's one chunk.
    gw = await relay_gateway()
    await gw.connect(json_answer(ANSWER))
    resp = await gw.client.post(f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse", json=GEMINI_BODY)
    assert resp.status == 200
    lines = [line for line in (await resp.read()).decode().splitlines() if line.startswith("data: ")]
    assert [orjson.loads(line[6:])["candidates"][0]["content"]["parts"][0]["text"] for line in lines] == [
        "hello from the relay"]


async def test_a_stream_that_ends_at_once_is_no_answer(relay_gateway: MakeGateway) -> None:
    # Compatibility row 4a: an empty 200 stream is an error, not a silent empty answer.
    gw = await relay_gateway()
    await gw.connect(lambda _: [("stream_end", None)])
    resp = await gw.client.post(f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse", json=GEMINI_BODY)
    assert resp.status == 500
    assert "upstream stream closed before a finishReason" in await resp.text()


async def test_a_raw_alt_stream_is_relayed_as_it_came(relay_gateway: MakeGateway) -> None:
    gw = await relay_gateway()
    whole = orjson.dumps([ANSWER]).decode()
    relay = await gw.connect(lambda _: [("stream_start", {"status": 200}), ("stream_chunk", {"data": whole[:15]}),
                                        ("stream_chunk", {"data": whole[15:]}), ("stream_end", None)])
    resp = await gw.client.post(f"/v1beta/models/{MODEL}:streamGenerateContent?alt=json", json=GEMINI_BODY)
    assert resp.status == 200
    assert orjson.loads(await resp.read()) == [ANSWER]
    assert relay.requests[0]["payload"]["url"] == f"{BASE}/{MODEL}:streamGenerateContent?$alt=json"


async def test_oauth_excluded_models_apply_to_the_channel(relay_gateway: MakeGateway) -> None:
    gw = await relay_gateway(f"oauth-excluded-models:\n  aistudio: [\"{MODEL}\"]\n")
    relay = await gw.connect(json_answer(ANSWER))
    resp = await gw.client.post(f"/v1beta/models/{MODEL}:generateContent", json=GEMINI_BODY)
    assert resp.status == 400
    assert relay.requests == []
    resp = await gw.client.post("/v1beta/models/gemini-flash-latest:generateContent", json=GEMINI_BODY)
    assert resp.status == 200


QUIET = "gateway:\n  upstream-timeouts:\n    idle: 0.3\n"


async def test_a_relay_quiet_after_its_last_event_ends_the_stream_whole(relay_gateway: MakeGateway) -> None:
    # The relay never sends stream_end: the answer already ended, so the idle wait ends the
    # stream cleanly, as for an HTTP upstream that keeps its connection open.
    gw = await relay_gateway(QUIET)
    await gw.connect(lambda _: sse_chunks()[:-1])
    resp = await gw.client.post(f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse", json=GEMINI_BODY)
    assert resp.status == 200
    lines = [line for line in (await resp.read()).decode().splitlines() if line.startswith("data: ")]
    texts = [orjson.loads(line[6:])["candidates"][0]["content"]["parts"][0]["text"] for line in lines]
    assert texts == ["hel", "lo"]


async def test_a_relay_quiet_mid_answer_fails_with_the_relay_timeout(relay_gateway: MakeGateway) -> None:
    gw = await relay_gateway(QUIET)
    await gw.connect(lambda _: sse_chunks()[:2])  # the head and half an event, then nothing
    resp = await gw.client.post(f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse", json=GEMINI_BODY)
    assert resp.status == 200
    first, error = (await resp.read()).decode().split("\n\n")[:2]
    assert first.startswith('data: {"candidates":[{"content":{"role":"model","parts":[{"text":"hel"}]}')
    assert error == ('event: error\ndata: {"error":{"message":"wsrelay: relay client sent nothing for 0.3s",'
                     '"type":"server_error","code":"internal_server_error"}}')


def log_keeper() -> tuple[list[Any], Any]:
    """A middleware keeping each request's upstream log (the request-log file's API sections)."""
    kept: list[Any] = []

    @web.middleware
    async def keep_log(request: web.Request, handler: Any) -> web.StreamResponse:
        response = await handler(request)
        kept.append(request.get(UPSTREAM_LOG_KEY))
        return response

    return kept, keep_log


async def test_request_log_records_the_relay_call_and_each_frame(relay_gateway: MakeGateway) -> None:
    """aistudio_executor.go records the relayed call like an HTTP one, and each frame's bytes as
    one piece of the answer's body."""
    kept, keep_log = log_keeper()
    gw = await relay_gateway("request-log: true\n", middlewares=(keep_log,))
    await gw.connect(lambda _: sse_chunks())
    resp = await gw.client.post(f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse", json=GEMINI_BODY)
    assert resp.status == 200
    await resp.read()
    [log] = kept
    request = log.api_request().decode()
    assert request.startswith("=== API REQUEST 1 ===\n")
    assert f"Upstream URL: {BASE}/{MODEL}:streamGenerateContent?alt=sse\n" in request
    assert "Headers:\nContent-Type: application/json\n" in request
    response = log.api_response().decode()
    assert "Status: 200\nHeaders:\nContent-Type: text/event-stream\n" in response
    halves = [frame[1]["data"].strip() for frame in sse_chunks() if frame[0] == "stream_chunk"]
    assert response.rstrip().endswith("Body:\n" + "\n\n".join(halves))


async def test_request_log_notes_a_failure_only_when_it_cut_the_answer(relay_gateway: MakeGateway) -> None:
    kept, keep_log = log_keeper()
    gw = await relay_gateway("request-log: true\n" + QUIET, middlewares=(keep_log,))
    await gw.connect(lambda request: sse_chunks()[:-1] if len(kept) == 0 else sse_chunks()[:2])
    for _ in range(2):
        resp = await gw.client.post(f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse", json=GEMINI_BODY)
        await resp.read()
    whole, cut = (log.api_response().decode() for log in kept)
    assert "Error:" not in whole  # quiet after the finishReason: the answer was whole
    # Right after the body's last bytes, as recordAPIResponseError appends it.
    assert cut.endswith('"parts"Error: wsrelay: relay client sent nothing for 0.3s\n')
