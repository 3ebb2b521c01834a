"""A Claude client's non-stream answer that arrives gzip-compressed without a Content-Encoding
header is unpacked before it is sent, as the legacy's Messages handler does (surface §3,
code_handlers.go:161-180); other answers and other clients are left as they came."""

from __future__ import annotations

import gzip
import json

from handlers.inference.pipeline import gunzip_unlabelled
from tests.fakes.llm_upstream import FakeLLM, status
from tests.handlers.inference.test_faults import CLAUDE_MODEL, JSON, MakeGateway, claude, upstreams_config

MESSAGE = {"id": "msg_1", "type": "message", "role": "assistant", "model": CLAUDE_MODEL,
           "content": [{"type": "text", "text": "A title"}], "stop_reason": "end_turn", "stop_sequence": None,
           "usage": {"input_tokens": 3, "output_tokens": 2}}


async def test_unlabelled_gzip_answer_reaches_the_claude_client_unpacked(gateway: MakeGateway,
                                                                         fake_llm: FakeLLM) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    raw = json.dumps(MESSAGE).encode()
    fake_llm.script("sk-claude", status(200, gzip.compress(raw)))
    resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL))
    assert resp.status == 200
    assert resp.headers["Content-Type"] == JSON
    assert "Content-Encoding" not in resp.headers
    assert await resp.read() == raw
    assert not fake_llm.requests[-1].body.get("stream")  # a non-stream call upstream, its body whole


async def test_gzip_magic_that_does_not_unpack_is_sent_as_it_came(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    broken = b"\x1f\x8b" + b"not gzip at all"
    fake_llm.script("sk-claude", status(200, broken))
    resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL))
    assert resp.status == 200
    assert await resp.read() == broken


def test_only_gzip_magic_is_touched() -> None:
    plain = json.dumps(MESSAGE).encode()
    assert gunzip_unlabelled(plain) is plain
    assert gunzip_unlabelled(b"") == b""
    assert gunzip_unlabelled(b"\x1f") == b"\x1f"
    assert gunzip_unlabelled(gzip.compress(b"")) == b""
    truncated = gzip.compress(plain)[:-6]
    assert gunzip_unlabelled(truncated) == truncated
