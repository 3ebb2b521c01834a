import pytest

from quotio_gateway.flags.matcher import DEFAULT_ROUTE_LABEL, CompiledTable, canary_bucket
from quotio_gateway.flags.schema import FlagTable, Mode


def table(routes, default="legacy"):
    return CompiledTable.build(FlagTable.model_validate({"default": default, "routes": routes}), 7)


def test_unlisted_route_gets_default_mode():
    result = table([], default="shadow").match("GET", "/v1/models")
    assert result.decision.mode is Mode.SHADOW
    assert result.decision.label == DEFAULT_ROUTE_LABEL
    assert result.decision.version == 7


@pytest.mark.parametrize(("pattern", "method", "path", "hit"), [
    ("GET /v1/models", "GET", "/v1/models", True),
    ("GET /v1/models", "POST", "/v1/models", False),
    ("GET /v1/models", "GET", "/v1/models/x", False),
    ("GET /v0/management/*", "GET", "/v0/management/debug", True),
    ("GET /v0/management/*", "GET", "/v0/management/routing/strategy", True),
    ("GET /v0/management/*", "GET", "/v0/management", False),
    ("POST /v1beta/models/*:streamGenerateContent", "POST", "/v1beta/models/gemini-pro:streamGenerateContent",
     True),
    ("POST /v1beta/models/*:streamGenerateContent", "POST", "/v1beta/models/gemini-pro:generateContent", False),
    ("POST /v1internal:*", "POST", "/v1internal:generateContent", True),
    ("* /api/*", "DELETE", "/api/threads/1", True),
    ("ANY /api/*", "GET", "/api/user", True),
    ("GET /v1/*/completions", "GET", "/v1/chat/completions", True),
    ("GET /", "GET", "/", True),
    ("GET /", "GET", "/x", False),
])
def test_path_patterns(pattern, method, path, hit):
    result = table([{"match": pattern, "mode": "native"}]).match(method, path)
    assert (result.decision.mode is Mode.NATIVE) is hit


def test_first_listed_route_wins():
    compiled = table([{"match": "GET /v0/management/debug", "mode": "native"},
                      {"match": "GET /v0/management/*", "mode": "shadow"}])
    assert compiled.match("GET", "/v0/management/debug").decision.mode is Mode.NATIVE
    assert compiled.match("GET", "/v0/management/config").decision.mode is Mode.SHADOW


def test_model_conditioned_route_asks_for_the_model_then_matches_it():
    compiled = table([{"match": "POST /v1/chat/completions", "model": "gpt-*", "mode": "native"},
                      {"match": "POST /v1/chat/completions", "mode": "shadow"}])
    first = compiled.match("POST", "/v1/chat/completions")
    assert first.needs_model
    assert compiled.match("POST", "/v1/chat/completions", "GPT-5", model_known=True).decision.mode is Mode.NATIVE
    other = compiled.match("POST", "/v1/chat/completions", "claude-3", model_known=True)
    assert other.decision.mode is Mode.SHADOW
    assert compiled.match("POST", "/v1/chat/completions", None, model_known=True).decision.mode is Mode.SHADOW


def test_decisions_are_cached_per_method_and_path():
    compiled = table([{"match": "GET /v1/models", "mode": "native"}])
    assert compiled.match("GET", "/v1/models") is compiled.match("GET", "/v1/models")


def test_route_labels_cover_routes_and_default():
    compiled = table([{"match": "GET /v1/models", "mode": "native"},
                      {"match": "POST /v1/messages", "model": "claude-*", "mode": "shadow"}])
    assert compiled.route_labels() == [("GET /v1/models", "native"), ("POST /v1/messages [claude-*]", "shadow"),
                                       (DEFAULT_ROUTE_LABEL, "legacy")]


def test_canary_bucket_is_sticky_and_spread():
    assert canary_bucket("r", "client-a") == canary_bucket("r", "client-a")
    buckets = [canary_bucket("r", f"client-{i}") for i in range(2000)]
    assert all(0 <= b < 100 for b in buckets)
    below = sum(b < 25 for b in buckets) / len(buckets)
    assert 0.2 < below < 0.3
