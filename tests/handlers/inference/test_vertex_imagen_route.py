"""Imagen through a ``vertex-api-key`` entry, end to end: listed models are served, the upstream
gets ``:predict`` with the body built from the client's request, and each client gets the image in
its own protocol (providers §5.4, §5.8)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.handlers.inference.test_faults import MakeGateway

PNG = "iVBORw0KGgoAAAANSUhEUg=="
MODEL = "imagen-4.0-generate-001"


class FakeVertex:
    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, str], Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append((request.path_qs, dict(request.headers), await request.json()))
        return web.json_response({"predictions": [{"bytesBase64Encoded": PNG, "mimeType": "image/png"}]})


@pytest.fixture
async def vertex() -> AsyncIterator[tuple[FakeVertex, str]]:
    fake = FakeVertex()
    app = web.Application()
    app.router.add_post("/{tail:.*}", fake.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    yield fake, str(server.make_url("")).rstrip("/")
    await server.close()


def config(base: str) -> str:
    return f"vertex-api-key:\n  - api-key: vx-key\n    base-url: {base}\n"


async def test_listed_imagen_model_answers_an_openai_client(gateway: MakeGateway, vertex: Any) -> None:
    fake, base = vertex
    client = await gateway(config(base))
    listed = await (await client.get("/v1/models")).json()
    assert MODEL in [m["id"] for m in listed["data"]]
    resp = await client.post("/v1/chat/completions", json={
        "model": MODEL, "messages": [{"role": "user", "content": "a paper boat"}], "aspectRatio": "1:1"})
    assert resp.status == 200
    answer = await resp.json()
    message = answer["choices"][0]["message"]
    assert message["role"] == "assistant"
    assert message["images"] == [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"},
                                  "index": 0}]
    assert answer["choices"][0]["finish_reason"] == "stop"
    path, headers, body = fake.seen[-1]
    assert path == f"/v1/publishers/google/models/{MODEL}:predict"
    assert headers["x-goog-api-key"] == "vx-key"
    assert body == {"instances": [{"prompt": "a paper boat"}], "parameters": {"aspectRatio": "1:1", "sampleCount": 1}}


async def test_gemini_client_gets_the_converted_answer(gateway: MakeGateway, vertex: Any) -> None:
    fake, base = vertex
    client = await gateway(config(base))
    resp = await client.post(f"/v1beta/models/{MODEL}:generateContent",
                             json={"contents": [{"role": "user", "parts": [{"text": "a kite"}]}],
                                   "negativePrompt": "text"})
    assert resp.status == 200
    answer = await resp.json()
    assert answer["candidates"][0]["content"]["parts"] == [{"inlineData": {"mimeType": "image/png", "data": PNG}}]
    assert answer["modelVersion"] == MODEL
    assert fake.seen[-1][2] == {"instances": [{"negativePrompt": "text", "prompt": "a kite"}],
                                "parameters": {"sampleCount": 1}}


async def test_a_stream_client_gets_the_image_in_one_chunk(gateway: MakeGateway, vertex: Any) -> None:
    fake, base = vertex
    client = await gateway(config(base))
    resp = await client.post("/v1/chat/completions", json={
        "model": MODEL, "stream": True, "messages": [{"role": "user", "content": "a kite"}]})
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    frames = [line for line in (await resp.text()).split("\n\n") if line]
    assert frames[-1] == "data: [DONE]"
    chunks = [json.loads(frame.removeprefix("data: ")) for frame in frames[:-1]]
    images = [image for chunk in chunks for choice in chunk["choices"] for image in choice["delta"].get("images", [])]
    assert [image["image_url"]["url"] for image in images] == [f"data:image/png;base64,{PNG}"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    path, _, body = fake.seen[-1]
    assert path == f"/v1/publishers/google/models/{MODEL}:predict"
    assert body == {"instances": [{"prompt": "a kite"}], "parameters": {"sampleCount": 1}}
    # A Gemini client's stream: the converted answer as its one SSE chunk.
    resp = await client.post(f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse",
                             json={"contents": [{"role": "user", "parts": [{"text": "a kite"}]}]})
    assert resp.status == 200
    frames = [line for line in (await resp.text()).split("\n\n") if line.strip()]
    assert len(frames) == 1
    answer = json.loads(frames[0].removeprefix("data: "))
    assert answer["candidates"][0]["content"]["parts"] == [{"inlineData": {"data": PNG, "mimeType": "image/png"}}]


async def test_a_promptless_request_gets_the_legacy_error(gateway: MakeGateway, vertex: Any) -> None:
    fake, base = vertex
    client = await gateway(config(base))
    resp = await client.post("/v1/responses", json={"model": MODEL, "input": "a kite"})
    assert resp.status == 500
    assert (await resp.json())["error"]["message"] == "imagen: no prompt found in request"
    assert fake.seen == []
