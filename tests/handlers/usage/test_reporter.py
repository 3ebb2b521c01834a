"""One upstream call's usage record, as usage_helpers.go's ``usageReporter`` makes it: the first
counts that are not all zero win (``once.Do``), a failure counts only before that, and only the
executors that call ``ensurePublished`` record a success that carried no counts."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from handlers.providers.base import APIKeyCredential
from handlers.providers.oauth_base import OAuthCredential, StaticToken
from handlers.usage.reporter import UsageReporter, credential_identity, usage_api
from handlers.usage.statistics import RequestStatistics

KEY = APIKeyCredential(provider="openai-compatibility", api_key="sk-up", id="compat:0")


def _reporter(executor: str, credential: Any = KEY) -> tuple[UsageReporter, RequestStatistics]:
    stats = RequestStatistics()
    return UsageReporter(stats, api="client-key", model="m", executor=executor, credential=credential,
                         client_key="client-key"), stats


def _details(stats: RequestStatistics) -> list[dict[str, Any]]:
    snapshot = stats.snapshot()
    return [d for api in snapshot["apis"].values() for m in api["models"].values() for d in m["details"]]


def _tokens(stats: RequestStatistics) -> list[tuple[dict[str, int], bool]]:
    return [(d["tokens"], d["failed"]) for d in _details(stats)]


def _counts(i: int, o: int, r: int = 0, c: int = 0, t: int = 0) -> dict[str, int]:
    return {"input_tokens": i, "output_tokens": o, "reasoning_tokens": r, "cached_tokens": c, "total_tokens": t}


def test_the_first_counts_that_are_not_all_zero_are_the_record() -> None:
    # An early chunk of zeros does not use up the once; a later usage does not replace the first.
    reporter, stats = _reporter("qwen")
    reporter.observe({"choices": []})
    reporter.observe({"usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}})
    reporter.observe({"usage": {"prompt_tokens": 3, "completion_tokens": 2,
                                "completion_tokens_details": {"reasoning_tokens": 1}}})
    reporter.observe({"usage": {"prompt_tokens": 30, "completion_tokens": 20, "total_tokens": 50}})
    reporter.failed()
    reporter.succeeded()
    # publishWithOutcome: a zero total becomes input + output + reasoning.
    assert _tokens(stats) == [(_counts(3, 2, r=1, t=6), False)]


def test_a_failure_is_recorded_once_with_zero_counts() -> None:
    reporter, stats = _reporter("claude")
    reporter.failed()
    reporter.observe({"type": "message_delta", "usage": {"input_tokens": 5, "output_tokens": 1}})
    reporter.failed()
    assert _tokens(stats) == [(_counts(0, 0), True)]


def test_a_success_without_counts_is_recorded_only_where_the_legacy_ensures_it() -> None:
    # ensurePublished: openai_compat_executor.go:160,286, iflow_executor.go:157,280,
    # antigravity_executor.go:213,374,394,748; the other executors record nothing.
    for executor, recorded in (("openai-compatibility", True), ("iflow", True), ("antigravity", True),
                               ("qwen", False), ("claude", False), ("codex", False), ("gemini", False),
                               ("gemini-cli", False), ("vertex", False)):
        reporter, stats = _reporter(executor)
        reporter.whole(b"not json")
        assert _tokens(stats) == ([(_counts(0, 0), False)] if recorded else []), executor


def test_whole_answers_are_read_per_upstream_kind() -> None:
    answers: dict[str, tuple[dict[str, Any], dict[str, int]]] = {
        # parseClaudeUsage: cache reads else cache writes; total = input + output.
        "claude": ({"usage": {"input_tokens": 9, "output_tokens": 4, "cache_read_input_tokens": 0,
                              "cache_creation_input_tokens": 7}}, _counts(9, 4, c=7, t=13)),
        # parseGeminiUsage: a missing total is prompt + candidates + thoughts.
        "gemini": ({"usageMetadata": {"promptTokenCount": 8, "candidatesTokenCount": 3, "thoughtsTokenCount": 2,
                                      "cachedContentTokenCount": 5}}, _counts(8, 3, r=2, c=5, t=13)),
        "gemini-cli": ({"response": {"usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1,
                                                       "totalTokenCount": 9}}}, _counts(1, 1, t=9)),
        "antigravity": ({"usageMetadata": {"promptTokenCount": 2, "candidatesTokenCount": 2}}, _counts(2, 2, t=4)),
        # parseOpenAIUsage: the upstream's total is kept as it is.
        "qwen": ({"usage": {"prompt_tokens": 4, "completion_tokens": 1, "total_tokens": 7,
                            "prompt_tokens_details": {"cached_tokens": 2}}}, _counts(4, 1, c=2, t=7)),
    }
    for executor, (answer, counts) in answers.items():
        reporter, stats = _reporter(executor)
        reporter.whole(orjson.dumps(answer))
        assert _tokens(stats) == [(counts, False)], executor


def test_cached_tokens_alone_make_the_total() -> None:
    # normaliseDetail: with input, output and reasoning all zero, the cached count is the total.
    reporter, stats = _reporter("claude")
    reporter.observe({"type": "message_delta", "usage": {"cache_read_input_tokens": 6}})
    assert _tokens(stats) == [(_counts(0, 0, c=6, t=6), False)]
    assert stats.total_tokens == 6


def _oauth(provider: str, file: str, **metadata: Any) -> OAuthCredential:
    return OAuthCredential(id=file, provider=provider, tokens=StaticToken("t"), metadata=metadata)


def _index(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:16]


def test_source_and_auth_index_follow_resolve_usage_source() -> None:
    # resolveUsageSource (usage_helpers.go:140-176) and EnsureIndex (auth/types.go:136-164).
    key = APIKeyCredential(provider="claude", api_key=" sk-a ", id="claude:0")
    assert credential_identity(key, "client") == ("sk-a", _index("api_key:sk-a"))
    cli = _oauth("gemini-cli", "me@x.com-proj.json", email="me@x.com", project_id="proj")
    assert credential_identity(cli, "client") == ("me@x.com-proj.json", _index("file:me@x.com-proj.json"))
    vertex = _oauth("vertex", "vertex-sa.json", project_id=" ", project="p2", email="sa@x.com")
    assert credential_identity(vertex, "client") == ("p2", _index("file:vertex-sa.json"))
    codex = _oauth("codex", "codex-a.json", email=" a@b.c ")
    assert credential_identity(codex, "client") == ("a@b.c", _index("file:codex-a.json"))
    qwen = _oauth("qwen", "qwen-a.json")
    assert credential_identity(qwen, " client ") == ("client", _index("file:qwen-a.json"))


def test_without_client_keys_the_bucket_is_gins_route_pattern() -> None:
    # resolveAPIIdentifier (logger_plugin.go:397-420) names the route by ginCtx.FullPath(): the
    # Amp aliases are one route per :provider (amp/routes.go:287-327), the Gemini bridge its own.
    assert usage_api("POST", "/v1/chat/completions") == "POST /v1/chat/completions"
    assert usage_api("POST", "/v1beta/models/gemini-2.5-pro:generateContent") == "POST /v1beta/models/*action"
    assert usage_api("POST", "/v1internal:streamGenerateContent") == "POST /v1internal:method"
    assert usage_api("POST", "/api/provider/anthropic/v1/messages") == "POST /api/provider/:provider/v1/messages"
    assert usage_api("POST", "/api/provider/groq/chat/completions") == "POST /api/provider/:provider/chat/completions"
    assert usage_api("POST", "/api/provider/google/v1beta/models/gemini-2.5-pro:streamGenerateContent") == \
        "POST /api/provider/:provider/v1beta/models/*action"
    assert usage_api("POST", "/api/provider/google/v1beta1/publishers/google/models/g:generateContent") == \
        "POST /api/provider/google/v1beta1/*path"
