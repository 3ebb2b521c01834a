from __future__ import annotations

import gzip
import json
from typing import Any

import pytest

from quotio_gateway.shadow.comparators import choose_comparator, compare, llm_signature
from quotio_gateway.shadow.types import Captured, Outcome

JSON = [("Content-Type", "application/json; charset=utf-8")]
SSE = [("Content-Type", "text/event-stream")]


def cap(body: Any, status: int = 200, headers: list[tuple[str, str]] | None = None, **kw: Any) -> Captured:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Captured(status=status, headers=JSON if headers is None else headers, body=raw, **kw)


def sse(*events: tuple[str | None, Any], crlf: bool = False, done: bool = False) -> Captured:
    parts = []
    for name, data in events:
        text = data if isinstance(data, str) else json.dumps(data)
        parts.append((f"event: {name}\n" if name else "") + f"data: {text}\n\n")
    if done:
        parts.append("data: [DONE]\n\n")
    body = "".join(parts)
    if crlf:
        body = body.replace("\n", "\r\n")
    return Captured(status=200, headers=SSE, body=body.encode())


# --- choose_comparator ---------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "kind"), [
    ("POST", "/v1/chat/completions", "llm"),
    ("POST", "/v1/completions", "llm"),
    ("POST", "/v1/responses", "llm"),
    ("POST", "/v1/messages", "llm"),
    ("POST", "/v1/messages/count_tokens", "llm"),
    ("POST", "/v1beta/models/gemini-2.5-pro:generateContent", "llm"),
    ("POST", "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", "llm"),
    ("POST", "/v1beta/models/gemini-2.5-pro:countTokens", "llm"),
    ("POST", "/v1internal:streamGenerateContent", "llm"),
    ("POST", "/api/provider/anthropic/v1/messages", "llm"),
    ("POST", "/api/provider/openai/chat/completions", "llm"),
    ("POST", "/api/provider/google/v1beta1/publishers/google/models/x:generateContent", "llm"),
    ("GET", "/v1/models", "models"),
    ("GET", "/v1beta/models", "models"),
    ("GET", "/v1beta/models/gemini-2.5-pro", "json"),
    ("GET", "/api/provider/openai/v1/models", "models"),
    ("GET", "/v0/management/config", "json"),
    ("PUT", "/v0/management/debug", "json"),
    # An unknown Gemini method is a read on both sides (docs/compatibility.md row 5); on the Amp
    # bridge it may reach the Amp upstream, so it stays a write there.
    ("POST", "/v1beta/models/x:embedContent", "llm"),
    ("POST", "/api/provider/google/v1beta/models/x:embedContent", "json"),
])
def test_choose_comparator(method: str, path: str, kind: str) -> None:
    assert choose_comparator(method, path) == kind


# --- JSON comparator -----------------------------------------------------------------------------

MODELS = {"object": "list", "data": [{"id": "gpt-5", "object": "model", "created": 1, "owned_by": "openai"}]}


def test_json_equal_is_match() -> None:
    result = compare("json", cap(MODELS), cap(MODELS, headers=[("content-type", "application/json")]))
    assert result.outcome is Outcome.MATCH
    assert result.diff == ""


def test_json_key_order_and_whitespace_do_not_matter() -> None:
    result = compare("json", cap(b'{"a": 1, "b": [1, 2]}'), cap(b'{"b":[1,2],"a":1}'))
    assert result.outcome is Outcome.MATCH


def test_json_number_spelling_does_not_matter() -> None:
    assert compare("json", cap(b'{"a": 1}'), cap(b'{"a": 1.0}')).outcome is Outcome.MATCH


def test_json_bool_is_not_number() -> None:
    result = compare("json", cap(b'{"a": 1}'), cap(b'{"a": true}'))
    assert result.outcome is Outcome.MISMATCH
    assert result.diff == "@ $.a\n- 1\n+ true"


def test_json_ignorable_only_differences_are_ignored() -> None:
    native = {"object": "list", "data": [{"id": "gpt-5", "object": "model", "created": 99, "owned_by": "openai"}],
              "request_id": "r2"}
    legacy = dict(MODELS, request_id="r1")
    result = compare("json", cap(legacy), cap(native))
    assert result.outcome is Outcome.IGNORED
    assert result.ignored_paths == ["$.data[0].created", "$.request_id"]
    assert result.diff == ('~ $.data[0].created (ignored)\n- 1\n+ 99\n'
                           '~ $.request_id (ignored)\n- "r1"\n+ "r2"')


def test_auth_file_times_are_ignored_but_their_status_is_compared() -> None:
    entry = {"name": "a.json", "status": "active", "created_at": "t1", "modtime": "t1", "updated_at": "t1"}
    legacy = {"files": [entry]}
    native = {"files": [dict(entry, created_at="t2", modtime="t2", updated_at="t2")]}
    result = compare("json", cap(legacy), cap(native))
    assert result.outcome is Outcome.IGNORED
    assert result.ignored_paths == ["$.files[0].created_at", "$.files[0].modtime", "$.files[0].updated_at"]
    native["files"][0]["status"] = "error"
    assert compare("json", cap(legacy), cap(native)).outcome is Outcome.MISMATCH


def test_json_ignorable_key_missing_on_one_side_is_a_mismatch() -> None:
    native = {"object": "list", "data": [{"object": "model", "created": 1, "owned_by": "openai"}]}
    result = compare("json", cap(MODELS), cap(native))
    assert result.outcome is Outcome.MISMATCH
    assert result.diff == '@ $.data[0].id\n- "gpt-5"\n+ (absent)'


def test_json_custom_ignore_path_pattern() -> None:
    native = {"object": "list", "data": [{"id": "gpt-5", "object": "model", "created": 1, "owned_by": "x"}]}
    plain = compare("json", cap(MODELS), cap(native))
    assert plain.outcome is Outcome.MISMATCH
    assert plain.diff == '@ $.data[0].owned_by\n- "openai"\n+ "x"'
    ignored = compare("json", cap(MODELS), cap(native), ignore_paths=("$.data.*.owned_by",))
    assert ignored.outcome is Outcome.IGNORED
    assert ignored.ignored_paths == ["$.data[0].owned_by"]


def test_json_value_diff_next_to_ignored_is_mismatch() -> None:
    legacy = {"id": "a", "debug": True}
    native = {"id": "b", "debug": False}
    result = compare("json", cap(legacy), cap(native))
    assert result.outcome is Outcome.MISMATCH
    assert result.diff == '@ $.debug\n- true\n+ false\n~ $.id (ignored)\n- "a"\n+ "b"'
    assert result.ignored_paths == ["$.id"]


def test_ignored_differences_shown_are_capped() -> None:
    legacy = [{"created": n} for n in range(25)]
    native = [{"created": -n - 1} for n in range(25)]
    result = compare("json", cap(legacy), cap(native))
    assert result.outcome is Outcome.IGNORED
    assert len(result.ignored_paths) == 25
    assert result.diff.count("(ignored)") == 20
    assert result.diff.endswith("… 5 more ignored differences")


def test_ids_inside_lists_are_compared() -> None:
    legacy = {"object": "list", "data": [{"id": "gpt-5", "object": "model"}]}
    native = {"object": "list", "data": [{"id": "gpt-4", "object": "model"}]}
    result = compare("json", cap(legacy), cap(native))
    assert result.outcome is Outcome.MISMATCH
    assert result.diff == '@ $.data[0].id\n- "gpt-5"\n+ "gpt-4"'


def test_model_lists_compare_without_order() -> None:
    legacy = {"object": "list", "data": [{"id": "a", "object": "model"}, {"id": "b", "object": "model"}]}
    native = {"object": "list", "data": [{"id": "b", "object": "model"}, {"id": "a", "object": "model"}]}
    assert choose_comparator("GET", "/v1/models?x=1") == "models"
    assert choose_comparator("GET", "/v1beta/models") == "models"
    assert compare("models", cap(legacy), cap(native)).outcome is Outcome.MATCH
    assert compare("json", cap(legacy), cap(native)).outcome is Outcome.MISMATCH
    gemini_legacy = {"models": [{"name": "models/x"}, {"name": "models/y"}]}
    gemini_native = {"models": [{"name": "models/y"}, {"name": "models/z"}]}
    assert compare("models", cap(gemini_legacy), cap(gemini_native)).outcome is Outcome.MISMATCH


def test_json_list_length_difference() -> None:
    result = compare("json", cap({"a": [1, 2]}), cap({"a": [1]}))
    assert result.diff == "@ $.a[1]\n- 2\n+ (absent)"


def test_json_status_difference() -> None:
    result = compare("json", cap({"error": "x"}, status=400), cap({"error": "x"}, status=404))
    assert result.outcome is Outcome.MISMATCH
    assert result.diff == "@ status\n- 400\n+ 404"


def test_json_content_type_family_difference() -> None:
    result = compare("json", cap(b"404 page not found", headers=[("Content-Type", "text/plain")]),
                     cap(b"404 page not found", headers=[("Content-Type", "text/html; charset=utf-8")]))
    assert result.outcome is Outcome.MISMATCH
    assert result.diff == "@ content-type\n- text/plain\n+ text/html"


def test_json_content_type_parameters_do_not_matter() -> None:
    result = compare("json", cap(MODELS, headers=[("Content-Type", "application/json")]),
                     cap(MODELS, headers=[("Content-Type", "Application/JSON; charset=utf-8")]))
    assert result.outcome is Outcome.MATCH


def test_json_request_id_headers_are_not_compared() -> None:
    legacy = cap(MODELS, headers=[*JSON, ("X-Request-Id", "a"), ("Date", "x")])
    native = cap(MODELS, headers=[*JSON, ("X-Request-Id", "b"), ("X-Quotio-Route", "native")])
    assert compare("json", legacy, native).outcome is Outcome.MATCH


def test_non_json_bodies_are_compared_byte_exact() -> None:
    text = [("Content-Type", "text/plain")]
    assert compare("json", cap(b"ok\n", headers=text), cap(b"ok\n", headers=text)).outcome is Outcome.MATCH
    result = compare("json", cap(b"hello world", headers=text), cap(b"hello there", headers=text))
    assert result.outcome is Outcome.MISMATCH
    assert result.diff == ("@ body (bytes differ at offset 6; legacy 11 bytes, native 11 bytes)\n"
                           "- hello world\n+ hello there")
    far = compare("json", cap(b"x" * 100 + b"A", headers=text), cap(b"x" * 100 + b"B", headers=text))
    assert far.diff == ("@ body (bytes differ at offset 100; legacy 101 bytes, native 101 bytes)\n"
                        f"- …{'x' * 40}A\n+ …{'x' * 40}B")


def test_json_against_invalid_json_is_a_byte_mismatch() -> None:
    result = compare("json", cap(b'{"a":1}'), cap(b'{"a":1'))
    assert result.outcome is Outcome.MISMATCH
    assert result.diff.startswith("@ body (bytes differ at offset 6")


def test_gzip_legacy_body_is_decoded_before_comparing() -> None:
    legacy = cap(gzip.compress(json.dumps(MODELS).encode()), headers=[*JSON, ("Content-Encoding", "gzip")])
    assert compare("json", legacy, cap(MODELS)).outcome is Outcome.MATCH


def test_decompression_bomb_is_skipped() -> None:
    legacy = cap(gzip.compress(b" " * 5000), headers=[*JSON, ("Content-Encoding", "gzip")])
    result = compare("json", legacy, cap(b" " * 5000), max_decoded=1000)
    assert (result.outcome, result.reason) == (Outcome.SKIPPED, "too_large")


def test_secret_values_never_appear_in_the_diff() -> None:
    result = compare("json", cap({"api-key": "sk-legacy-secret-1"}), cap({"api-key": "sk-native-secret-2"}))
    assert result.diff == '@ $.api-key\n- [redacted]\n+ [redacted]'


def test_secret_lists_never_appear_in_the_diff() -> None:
    # CLIProxyAPI's api-keys: the elements of a secret list are secrets too.
    result = compare("json", cap({"api-keys": ["client-key", "plainsecretvalue42"]}),
                     cap({"api-keys": ["client-key", "other-plain-value"]}))
    assert result.diff == '@ $.api-keys[1]\n- [redacted]\n+ [redacted]'
    assert "plain" not in result.diff


def test_diff_is_capped() -> None:
    result = compare("json", cap({f"k{i}": i for i in range(150)}), cap({f"k{i}": -i - 1 for i in range(150)}))
    assert result.diff.endswith("… 50 more differences")
    assert result.diff.count("@ ") == 100


@pytest.mark.parametrize("kind", ["json", "llm"])
@pytest.mark.parametrize("side", ["legacy", "native"])
def test_truncated_either_leg_is_skipped(kind: str, side: str) -> None:
    legacy, native = cap(MODELS), cap(MODELS)
    (legacy if side == "legacy" else native).truncated = True
    result = compare(kind, legacy, native)
    assert (result.outcome, result.reason) == (Outcome.SKIPPED, "too_large")


def test_native_failure_is_error_and_legacy_failure_is_skipped() -> None:
    failed = Captured(status=500, headers=[], body=b"", error="KeyError")
    native_failed = compare("json", cap(MODELS), failed)
    assert (native_failed.outcome, native_failed.reason, native_failed.diff) == (
        Outcome.ERROR, "native_failed", "native leg failed: KeyError")
    legacy_failed = compare("json", failed, cap(MODELS))
    assert (legacy_failed.outcome, legacy_failed.reason) == (Outcome.SKIPPED, "legacy_failed")


def test_unknown_comparator_kind_raises() -> None:
    with pytest.raises(ValueError, match="unknown comparator"):
        compare("xml", cap(MODELS), cap(MODELS))


# --- LLM comparator: non-stream ------------------------------------------------------------------

def chat(content: str = "hi", finish: str = "stop", tools: list[dict[str, Any]] | None = None,
         usage: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tools is not None:
        message["tool_calls"] = [{"id": f"call_{i}", "type": "function",
                                  "function": {"name": t["name"], "arguments": json.dumps(t["args"])}}
                                 for i, t in enumerate(tools)]
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-5",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage or {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}}


def test_llm_text_and_token_counts_do_not_matter() -> None:
    legacy = chat("Hello there", usage={"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8})
    native = chat("Something else", usage={"prompt_tokens": 30, "completion_tokens": 1, "total_tokens": 31})
    native["id"], native["created"] = "chatcmpl-2", 2
    assert compare("llm", cap(legacy), cap(native)).outcome is Outcome.MATCH


def test_llm_finish_reason_difference() -> None:
    result = compare("llm", cap(chat(finish="stop")), cap(chat(finish="length")))
    assert result.outcome is Outcome.MISMATCH
    assert result.diff == '@ $.finish_reasons[0]\n- "stop"\n+ "length"'


def test_llm_status_and_error_type() -> None:
    legacy = cap({"error": {"message": "bad", "type": "invalid_request_error"}}, status=400)
    same = cap({"error": {"message": "different words", "type": "invalid_request_error"}}, status=400)
    assert compare("llm", legacy, same).outcome is Outcome.MATCH
    other = cap({"error": {"message": "bad", "type": "server_error"}}, status=500)
    result = compare("llm", legacy, other)
    assert result.outcome is Outcome.MISMATCH
    assert result.diff == ('@ $.error_type\n- "invalid_request_error"\n+ "server_error"\n'
                           "@ $.status\n- 400\n+ 500")


def test_llm_gemini_error_status_is_the_error_type() -> None:
    legacy = cap({"error": {"code": 400, "message": "x", "status": "INVALID_ARGUMENT"}}, status=400)
    native = cap({"error": {"code": 400, "message": "x", "status": "FAILED_PRECONDITION"}}, status=400)
    result = compare("llm", legacy, native)
    assert result.diff == '@ $.error_type\n- "INVALID_ARGUMENT"\n+ "FAILED_PRECONDITION"'


def test_llm_tool_argument_values_do_not_matter_but_shape_does() -> None:
    legacy = chat(tools=[{"name": "read_file", "args": {"path": "/a", "lines": 10}}], finish="tool_calls")
    same_shape = chat(tools=[{"name": "read_file", "args": {"path": "/b/c", "lines": 99}}], finish="tool_calls")
    assert compare("llm", cap(legacy), cap(same_shape)).outcome is Outcome.MATCH
    new_key = chat(tools=[{"name": "read_file", "args": {"path": "/a", "lines": "10"}}], finish="tool_calls")
    result = compare("llm", cap(legacy), cap(new_key))
    assert result.outcome is Outcome.MISMATCH
    assert result.diff == '@ $.tool_calls[0].arguments.lines\n- "number"\n+ "string"'


def test_llm_tool_name_difference() -> None:
    legacy = chat(tools=[{"name": "read_file", "args": {}}], finish="tool_calls")
    native = chat(tools=[{"name": "write_file", "args": {}}], finish="tool_calls")
    result = compare("llm", cap(legacy), cap(native))
    assert result.diff == '@ $.tool_calls[0].name\n- "read_file"\n+ "write_file"'


def test_llm_usage_keys_compared_not_values() -> None:
    legacy = chat(usage={"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3,
                         "prompt_tokens_details": {"cached_tokens": 0}})
    native = chat(usage={"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3})
    result = compare("llm", cap(legacy), cap(native))
    assert result.outcome is Outcome.MISMATCH
    assert result.diff == ('@ $.usage_keys[2]\n- "prompt_tokens_details"\n+ "total_tokens"\n'
                           '@ $.usage_keys[3]\n- "prompt_tokens_details.cached_tokens"\n+ (absent)\n'
                           '@ $.usage_keys[4]\n- "total_tokens"\n+ (absent)')


def test_llm_top_level_key_difference() -> None:
    legacy = chat()
    native = chat()
    del native["created"]
    result = compare("llm", cap(legacy), cap(native))
    assert result.outcome is Outcome.MISMATCH
    assert "@ $.keys[1]" in result.diff


def test_llm_claude_message_blocks_and_tool_use() -> None:
    def message(stop: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
        return {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude", "content": blocks,
                "stop_reason": stop, "usage": {"input_tokens": 1, "output_tokens": 2}}
    legacy = message("tool_use", [{"type": "text", "text": "a"},
                                  {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls"}}])
    native = message("tool_use", [{"type": "text", "text": "b"},
                                  {"type": "tool_use", "id": "t2", "name": "Bash", "input": {"command": "pwd"}}])
    assert compare("llm", cap(legacy), cap(native)).outcome is Outcome.MATCH
    no_tool = message("end_turn", [{"type": "text", "text": "a"}])
    result = compare("llm", cap(legacy), cap(no_tool))
    assert result.diff == ('@ $.content_blocks[1]\n- "tool_use"\n+ (absent)\n'
                           '@ $.finish_reasons[0]\n- "tool_use"\n+ "end_turn"\n'
                           '@ $.tool_calls[0]\n- {"name":"Bash","arguments":{"command":"string"}}\n+ (absent)')


def test_llm_gemini_candidates() -> None:
    def response(finish: str, args: dict[str, Any]) -> dict[str, Any]:
        return {"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": "f", "args": args}}]},
                                "finishReason": finish, "index": 0}],
                "usageMetadata": {"promptTokenCount": 1, "totalTokenCount": 2}}
    assert compare("llm", cap(response("STOP", {"a": 1})), cap(response("STOP", {"a": 2}))).outcome is Outcome.MATCH
    result = compare("llm", cap(response("STOP", {"a": 1})), cap(response("MAX_TOKENS", {"a": 1})))
    assert result.diff == '@ $.finish_reasons[0]\n- "STOP"\n+ "MAX_TOKENS"'


def test_llm_gemini_cli_wrapper_is_unwrapped() -> None:
    body = {"response": {"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "STOP"}]}}
    signature = llm_signature(cap(body), json.dumps(body).encode())
    assert signature["finish_reasons"] == ["STOP"]


def test_llm_invalid_tool_arguments_have_their_own_shape() -> None:
    legacy = chat(finish="tool_calls")
    legacy["choices"][0]["message"]["tool_calls"] = [{"function": {"name": "f", "arguments": "{bad"}}]
    native = chat(tools=[{"name": "f", "args": {}}], finish="tool_calls")
    result = compare("llm", cap(legacy), cap(native))
    assert result.diff == '@ $.tool_calls[0].arguments\n- "invalid-json"\n+ {}'


def test_llm_empty_and_non_json_bodies() -> None:
    assert compare("llm", cap(b""), cap(b"")).outcome is Outcome.MATCH
    result = compare("llm", cap(b""), cap(b"oops", headers=[("Content-Type", "text/plain")]))
    assert result.diff == ('@ $.body\n- "empty"\n+ "non-json"\n'
                           '@ $.content_type\n- "application/json"\n+ "text/plain"')


# --- LLM comparator: streams ---------------------------------------------------------------------

def openai_stream(words: list[str], finish: str = "stop", *, done: bool = True, crlf: bool = False,
                  tool_args: list[str] | None = None, usage: bool = False) -> Captured:
    events: list[tuple[str | None, Any]] = [(None, {"object": "chat.completion.chunk", "choices": [
        {"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]})]
    for word in words:
        events.append((None, {"object": "chat.completion.chunk", "choices": [
            {"index": 0, "delta": {"content": word}, "finish_reason": None}]}))
    for position, piece in enumerate(tool_args or []):
        call: dict[str, Any] = {"index": 0, "function": {"arguments": piece}}
        if position == 0:
            call["function"]["name"] = "search"
        events.append((None, {"object": "chat.completion.chunk", "choices": [
            {"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": None}]}))
    events.append((None, {"object": "chat.completion.chunk", "choices": [
        {"index": 0, "delta": {}, "finish_reason": finish}]}))
    if usage:
        events.append((None, {"object": "chat.completion.chunk", "choices": [],
                              "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}))
    return sse(*events, crlf=crlf, done=done)


def test_stream_token_count_and_framing_do_not_matter() -> None:
    legacy = openai_stream(["Hel", "lo", " world"])
    native = openai_stream(["Hi"], crlf=True)
    native.body = b": keep-alive\r\n\r\n" + native.body
    assert compare("llm", legacy, native).outcome is Outcome.MATCH


def test_stream_chunk_boundaries_are_irrelevant() -> None:
    from quotio_gateway.shadow.capture import BodyTee
    legacy = openai_stream(["a", "b"])
    tee = BodyTee(1 << 20)
    for index in range(0, len(legacy.body), 7):
        tee.feed(legacy.body[index:index + 7])
    native = tee.result(200, SSE, 0.0)
    assert native.body == legacy.body
    assert compare("llm", legacy, native).outcome is Outcome.MATCH


def test_stream_missing_done_is_an_event_sequence_difference() -> None:
    result = compare("llm", openai_stream(["a"]), openai_stream(["a"], done=False))
    assert result.outcome is Outcome.MISMATCH
    assert result.diff == '@ $.events[1]\n- "[DONE]"\n+ (absent)'


def test_stream_finish_reason_difference() -> None:
    result = compare("llm", openai_stream(["a"]), openai_stream(["a"], finish="length"))
    assert result.diff == '@ $.finish_reasons[0]\n- "stop"\n+ "length"'


def test_stream_tool_arguments_reassembled_across_chunks() -> None:
    legacy = openai_stream([], "tool_calls", tool_args=['{"q": "ca', 'ts", "n": 1}'])
    native = openai_stream([], "tool_calls", tool_args=['{"q": "dogs", "n": 5}'])
    assert compare("llm", legacy, native).outcome is Outcome.MATCH
    wrong = openai_stream([], "tool_calls", tool_args=['{"q": ["dogs"], "n": 5}'])
    result = compare("llm", legacy, wrong)
    assert result.diff == '@ $.tool_calls[0].arguments.q\n- "string"\n+ ["array","string"]'


def test_stream_usage_keys() -> None:
    result = compare("llm", openai_stream(["a"], usage=True), openai_stream(["a"]))
    assert result.outcome is Outcome.MISMATCH
    assert result.diff.startswith('@ $.usage_keys[0]\n- "completion_tokens"\n+ (absent)')


def claude_stream(texts: list[str], stop: str = "end_turn", *, ping: bool = False,
                  tool_json: list[str] | None = None) -> Captured:
    events: list[tuple[str | None, Any]] = [
        ("message_start", {"type": "message_start", "message": {"id": "msg", "usage": {"input_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}})]
    if ping:
        events.append(("ping", {"type": "ping"}))
    for text in texts:
        events.append(("content_block_delta", {"type": "content_block_delta", "index": 0,
                                               "delta": {"type": "text_delta", "text": text}}))
    events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
    if tool_json is not None:
        events.append(("content_block_start", {"type": "content_block_start", "index": 1, "content_block": {
            "type": "tool_use", "id": "t", "name": "Read", "input": {}}}))
        for piece in tool_json:
            events.append(("content_block_delta", {"type": "content_block_delta", "index": 1,
                                                   "delta": {"type": "input_json_delta", "partial_json": piece}}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": 1}))
    events += [("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop},
                                  "usage": {"output_tokens": 3}}),
               ("message_stop", {"type": "message_stop"})]
    return sse(*events)


def test_claude_stream_match_ignores_pings_and_delta_counts() -> None:
    assert compare("llm", claude_stream(["a", "b", "c"]), claude_stream(["abc"], ping=True)).outcome is Outcome.MATCH


def test_claude_stream_event_sequence_difference() -> None:
    legacy = claude_stream(["a"], stop="tool_use", tool_json=['{"file', '_path": "/x"}'])
    native = claude_stream(["a"], stop="tool_use", tool_json=['{"file_path": "/y"}'])
    assert compare("llm", legacy, native).outcome is Outcome.MATCH
    plain = claude_stream(["a"], stop="tool_use")
    result = compare("llm", legacy, plain)
    assert result.outcome is Outcome.MISMATCH
    assert '@ $.events[4]\n- "content_block_start:tool_use"\n+ "message_delta"' in result.diff
    assert llm_signature(legacy, legacy.body)["tool_calls"] == [
        {"name": "Read", "arguments": {"file_path": "string"}}]


def test_claude_stream_error_event() -> None:
    legacy = claude_stream(["a"])
    error = sse(("message_start", {"type": "message_start", "message": {"usage": {"input_tokens": 1}}}),
                ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "x"}}))
    signature = llm_signature(error, error.body)
    assert signature["error_type"] == "overloaded_error"
    assert signature["events"] == ["message_start", "error"]
    assert compare("llm", legacy, error).outcome is Outcome.MISMATCH


def test_responses_stream_uses_terminal_response() -> None:
    def stream(status: str, tool: str) -> Captured:
        return sse(
            ("response.created", {"type": "response.created", "response": {"status": "in_progress"}}),
            ("response.output_item.added", {"type": "response.output_item.added", "item": {"type": "function_call"}}),
            ("response.function_call_arguments.delta", {"type": "response.function_call_arguments.delta"}),
            ("response.function_call_arguments.delta", {"type": "response.function_call_arguments.delta"}),
            ("response.completed", {"type": "response.completed", "response": {
                "object": "response", "status": status,
                "output": [{"type": "function_call", "name": tool, "arguments": '{"x": 1}'}],
                "usage": {"input_tokens": 1, "output_tokens": 1}}}))
    legacy = stream("completed", "shell")
    assert compare("llm", legacy, stream("completed", "shell")).outcome is Outcome.MATCH
    signature = llm_signature(legacy, legacy.body)
    assert signature["events"] == ["response.created", "response.output_item.added:function_call",
                                   "response.function_call_arguments.delta", "response.completed"]
    assert signature["tool_calls"] == [{"name": "shell", "arguments": {"x": "number"}}]
    result = compare("llm", legacy, stream("incomplete", "shell"))
    assert result.diff == '@ $.finish_reasons[0]\n- "completed"\n+ "incomplete"'


def test_gemini_stream_finish_reason_and_usage() -> None:
    def stream(finish: str) -> Captured:
        return sse((None, {"candidates": [{"content": {"parts": [{"text": "a"}]}, "index": 0}]}),
                   (None, {"candidates": [{"content": {"parts": [{"text": "b"}]}, "index": 0}]}),
                   (None, {"candidates": [{"content": {"parts": [{"text": ""}]}, "finishReason": finish,
                                           "index": 0}], "usageMetadata": {"totalTokenCount": 4}}))
    signature = llm_signature(stream("STOP"), stream("STOP").body)
    assert signature["events"] == ["data"]
    assert signature["usage_keys"] == ["totalTokenCount"]
    assert compare("llm", stream("STOP"), stream("SAFETY")).outcome is Outcome.MISMATCH


def test_stream_versus_json_error_is_a_mismatch() -> None:
    result = compare("llm", openai_stream(["a"]), cap({"error": {"type": "server_error"}}, status=500))
    assert result.outcome is Outcome.MISMATCH
    assert "@ $.status\n- 200\n+ 500" in result.diff


def test_alt_json_chunks_one_after_another_read_like_the_array() -> None:
    """A Gemini-family stream under a non-SSE ``alt`` reaches the client as the chunks written one
    after another with no framing (gemini_handlers.go writes each chunk as is when ``alt`` is set;
    Go sniffs the type as text/plain): no single JSON document, but the same chunks as the array
    form, so the same signature."""
    chunks = [{"response": {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}}]}},
              {"response": {"candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]},
                                            "finishReason": "STOP"}],
                            "usageMetadata": {"promptTokenCount": 1, "totalTokenCount": 2}}}]
    plain = [("Content-Type", "text/plain; charset=utf-8")]
    concatenated = llm_signature(Captured(200, plain, b""), b"".join(json.dumps(c).encode() for c in chunks) + b"\n")
    array = llm_signature(Captured(200, plain, b""), json.dumps(chunks).encode())
    assert concatenated == array
    assert concatenated["finish_reasons"] == ["STOP"] and concatenated["usage_keys"] == [
        "promptTokenCount", "totalTokenCount"]
    # Anything else that is not one JSON document stays opaque.
    for body in (b'{"a":1} trailing', b'{"a":1}{', b"[1] 2"):
        assert llm_signature(Captured(200, plain, b""), body)["body"] == "non-json"
