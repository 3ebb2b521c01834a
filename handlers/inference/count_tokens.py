"""Token counting (``/v1/messages/count_tokens``, Gemini ``:countTokens``) on top of the pairs.

The legacy executors count by translating the client body with the ordinary request translator
and calling the upstream's own counting endpoint: Claude ``/v1/messages/count_tokens`` (the body
translated as for a stream unless client and upstream are both Claude), Gemini ``:countTokens``
(``tools``, ``generationConfig`` and ``safetySettings`` removed by the executor, after the
thinking step), Gemini CLI and Antigravity
``v1internal:countTokens`` (the envelope without ``project``, ``model`` and the request's
``safetySettings``). The number comes back through
``TranslateTokenCount``: a Claude client gets ``{"input_tokens":N}``, Gemini clients
``{"totalTokens":N,"promptTokensDetails":[…]}``, and a pair with no count translator (Claude ->
Claude) gets the upstream body verbatim. OpenAI-format upstreams (OpenAI-compatible, Qwen,
iFlow) and Codex have no counting endpoint: their executors count the translated body locally
(``Executor.count_locally``, ``handlers/translation/token_count.py``) and answer with the usage
JSON the legacy builds, ``{"usage":{"prompt_tokens":N,…}}`` and
``{"response":{"usage":{"input_tokens":N,…}}}``, which goes through the same renderers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from handlers.translation.claude_stream import render_count_tokens as claude_count
from handlers.translation.gemini_request import render_count_tokens as gemini_count
from handlers.translation.gjson_values import int_of
from handlers.translation.model import Format

from .pair_table import PairLookup
from .translate import PairFactory, StreamTranslator, TranslateInput, Translation, TranslationError

COUNTING_UPSTREAMS = frozenset({Format.CLAUDE, Format.GEMINI, Format.GEMINI_CLI, Format.ANTIGRAVITY,
                                Format.OPENAI, Format.CODEX})
# The envelope upstreams count at ``v1internal:countTokens``; their executors drop ``project`` and
# ``model`` themselves, the safety settings inside ``request`` go here (as the legacy executors do).
_ENVELOPES = frozenset({Format.GEMINI_CLI, Format.ANTIGRAVITY})


@dataclass(slots=True)
class _CountTranslation:
    upstream_body: dict[str, Any]
    client: Format
    upstream: Format
    upstream_stream: bool = False

    def response(self, upstream: bytes) -> bytes:
        if self.client is self.upstream and self.client is Format.CLAUDE:
            return upstream  # no count translator: the answer as it came (claude_executor.go:468-470)
        try:
            answer = orjson.loads(upstream)
        except orjson.JSONDecodeError:
            answer = None  # gjson finds no count in it: 0, as the legacy answers
        count = _upstream_count(self.upstream, answer)
        if self.client is Format.CLAUDE:
            return orjson.dumps(claude_count(count))
        return orjson.dumps(gemini_count(count))

    def stream(self) -> StreamTranslator:
        raise TranslationError("token counting has no stream form")


def _upstream_count(upstream: Format, answer: Any) -> int:
    # Claude counts in ``input_tokens``; Gemini and both envelope upstreams in ``totalTokens``;
    # the local counts sit where the legacy puts them in its usage JSON.
    if upstream is Format.OPENAI:
        answer = _path(answer, "usage")
        key = "prompt_tokens"
    elif upstream is Format.CODEX:
        answer = _path(_path(answer, "response"), "usage")
        key = "input_tokens"
    else:
        key = "input_tokens" if upstream is Format.CLAUDE else "totalTokens"
    # gjson Int(): a numeric string counts too (claude_executor.go:468, gemini_executor.go:407).
    return int_of(answer.get(key)) if isinstance(answer, dict) else 0


def _path(node: Any, key: str) -> Any:
    return node.get(key) if isinstance(node, dict) else None


def count_pairs(pairs: PairLookup) -> PairLookup:
    """The count-tokens view of a pair table: same request translators, counting answers."""

    def lookup(client: Format, upstream: Format) -> PairFactory | None:
        if upstream not in COUNTING_UPSTREAMS:
            return None
        factory = pairs(client, upstream)
        if factory is None:
            return None

        def count_factory(inp: TranslateInput) -> Translation:
            as_stream = upstream is Format.CLAUDE and client is not Format.CLAUDE
            base = factory(TranslateInput(body=inp.body, model=inp.model, client_model=inp.client_model,
                                          stream=as_stream, alt="", raw=inp.raw, headers=inp.headers))
            body = dict(base.upstream_body)
            if upstream in _ENVELOPES and isinstance(body.get("request"), dict):
                body["request"] = {k: v for k, v in body["request"].items() if k != "safetySettings"}
            body["model"] = inp.model
            return _CountTranslation(body, client, upstream)

        return count_factory

    return lookup
