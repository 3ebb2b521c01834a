"""OpenAI chat client: an ``image_url`` part whose ``image_url`` is a bare string, not ``{"url": …}``.

Every legacy request translator from OpenAI chat reads the URL at ``image_url.url`` with gjson,
which finds nothing inside a string:

* Gemini ``gemini/openai/chat-completions/gemini_openai_request.go:182`` (user) and ``:231``
  (assistant), Gemini CLI ``gemini-cli/openai/chat-completions/gemini-cli_openai_request.go:179``
  and ``:225``, Antigravity ``antigravity/openai/chat-completions/antigravity_openai_request.go:185``
  and ``:233``: an empty URL is not longer than 5 bytes, so no part is written.
* Claude ``claude/openai/chat-completions/claude_openai_request.go:190-191``: an empty URL has no
  ``data:`` prefix, so no block is written.
* Codex ``codex/openai/chat-completions/codex_openai_request.go:182-188``: the ``input_image`` part
  is written, but ``image_url`` only when ``image_url.url`` exists, so it goes out without one.

The object form next to it still carries its image, which shows the part is dropped, not the turn.
Antigravity already read it this way (its own reader); ``test_pairs_malformed.py`` pins that pair.
"""

from __future__ import annotations

from typing import Any

import orjson

from handlers.inference.pairs_cli_antigravity import PAIRS as CLI_PAIRS
from handlers.inference.pairs_codex_openai import make_pairs
from handlers.inference.translate import TranslateInput
from handlers.translation.model import Format

F = Format
FIXED = make_pairs(now=lambda: 1700000000, user_id=lambda: "user_x")

BODY: dict[str, Any] = {
    "model": "m",
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "a"},
                {"type": "image_url", "image_url": "data:image/png;base64,AAAA"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,BBBB"}},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "b"},
                {"type": "image_url", "image_url": "data:image/png;base64,CCCC"},
            ],
        },
        {"role": "user", "content": "q"},
    ],
}

SAFETY = (
    b'"safetySettings":[{"category":"HARM_CATEGORY_HARASSMENT","threshold":"OFF"},'
    b'{"category":"HARM_CATEGORY_HATE_SPEECH","threshold":"OFF"},'
    b'{"category":"HARM_CATEGORY_SEXUALLY_EXPLICIT","threshold":"OFF"},'
    b'{"category":"HARM_CATEGORY_DANGEROUS_CONTENT","threshold":"OFF"},'
    b'{"category":"HARM_CATEGORY_CIVIC_INTEGRITY","threshold":"BLOCK_NONE"}]'
)
GEMINI_CONTENTS = (
    b'"contents":[{"role":"user","parts":[{"text":"a"},'
    b'{"inlineData":{"mime_type":"image/png","data":"BBBB"},"thoughtSignature":"skip_thought_signature_validator"}]},'
    b'{"role":"model","parts":[{"text":"b"}]},'
    b'{"role":"user","parts":[{"text":"q"}]}]'
)


def upstream_bytes(upstream: Format) -> bytes:
    inp = TranslateInput(body=BODY, model="up", client_model="m", stream=False)
    factory = CLI_PAIRS[(F.OPENAI, upstream)] if upstream is F.GEMINI_CLI else FIXED[(F.OPENAI, upstream)]
    return orjson.dumps(factory(inp).upstream_body)


def test_gemini_drops_a_string_image_url() -> None:
    assert upstream_bytes(F.GEMINI) == b"{" + GEMINI_CONTENTS + b',"model":"up",' + SAFETY + b"}"


def test_gemini_cli_drops_a_string_image_url() -> None:
    assert upstream_bytes(F.GEMINI_CLI) == (
        b'{"project":"","request":{' + GEMINI_CONTENTS + b"," + SAFETY + b'},"model":"up"}'
    )


def test_claude_drops_a_string_image_url() -> None:
    assert upstream_bytes(F.CLAUDE) == (
        b'{"model":"up","max_tokens":32000,"messages":['
        b'{"role":"user","content":[{"type":"text","text":"a"},'
        b'{"type":"image","source":{"type":"base64","media_type":"image/png","data":"BBBB"}}]},'
        b'{"role":"assistant","content":[{"type":"text","text":"b"}]},'
        b'{"role":"user","content":[{"type":"text","text":"q"}]}],'
        b'"metadata":{"user_id":"user_x"},"stream":true}'
    )


def test_codex_keeps_an_input_image_without_url_for_a_string_image_url() -> None:
    assert upstream_bytes(F.CODEX) == (
        b'{"instructions":"","stream":true,"reasoning":{"effort":"medium","summary":"auto"},'
        b'"parallel_tool_calls":true,"include":["reasoning.encrypted_content"],"model":"up","input":['
        b'{"type":"message","role":"user","content":[{"type":"input_text","text":"a"},'
        b'{"type":"input_image"},{"type":"input_image","image_url":"data:image/png;base64,BBBB"}]},'
        b'{"type":"message","role":"assistant","content":[{"type":"output_text","text":"b"}]},'
        b'{"type":"message","role":"user","content":[{"type":"input_text","text":"q"}]}],"store":false}'
    )
