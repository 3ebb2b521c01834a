"""Legacy ``/v1/completions`` over chat (``sdk/api/handlers/openai/openai_handlers.go``, Go source)."""

from __future__ import annotations

import math

import pytest

from handlers.translation import completions
from handlers.translation.sse import dumps


def test_request_golden_with_go_coercions() -> None:
    body = {
        "model": "gpt-x",
        "prompt": "Say hi",
        "max_tokens": 16.7,
        "temperature": 1,
        "top_p": 0.5,
        "frequency_penalty": "0.25",
        "presence_penalty": True,
        "stop": ["\n", "END"],
        "stream": True,
        "logprobs": 3,
        "top_logprobs": 2.9,
        "echo": "true",
        "suffix": "ignored",
        "n": 2,
    }
    out = completions.chat_request(body)
    assert out == {
        "model": "gpt-x",
        "messages": [{"role": "user", "content": "Say hi"}],
        "max_tokens": 16,
        "temperature": 1,
        "top_p": 0.5,
        "frequency_penalty": 0.25,
        "presence_penalty": 1,
        "stop": ["\n", "END"],
        "stream": True,
        "logprobs": True,
        "top_logprobs": 2,
        "echo": True,
    }
    assert list(out) == [
        "model", "messages", "max_tokens", "temperature", "top_p", "frequency_penalty", "presence_penalty",
        "stop", "stream", "logprobs", "top_logprobs", "echo",
    ]


def test_empty_or_missing_prompt_gets_the_default_and_arrays_go_as_json_text() -> None:
    assert completions.chat_request({})["messages"] == [{"role": "user", "content": "Complete this:"}]
    assert completions.chat_request({"prompt": ""})["messages"][0]["content"] == "Complete this:"
    assert completions.chat_request({"prompt": ["a", "b"]})["messages"][0]["content"] == '["a","b"]'
    assert completions.chat_request({}) == {"model": "", "messages": [{"role": "user", "content": "Complete this:"}]}
    assert completions.chat_request({"stream": "yes", "logprobs": 0})["stream"] is False


def test_non_stream_completion() -> None:
    chat = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 9,
        "model": "gpt-x",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop",
             "logprobs": None},
            {"index": 1, "message": {"role": "assistant", "content": None}, "finish_reason": None},
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }
    out = completions.completion_from_chat(chat)
    assert out == {
        "id": "chatcmpl-1",
        "object": "text_completion",
        "created": 9,
        "model": "gpt-x",
        "choices": [
            {"finish_reason": "stop", "index": 0, "logprobs": None, "text": "Hello"},
            {"finish_reason": "", "index": 1, "text": ""},
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }
    assert list(out) == ["id", "object", "created", "model", "choices", "usage"]
    assert list(out["choices"][0]) == ["finish_reason", "index", "logprobs", "text"]


def test_non_stream_without_choices_keeps_the_empty_list() -> None:
    assert completions.completion_from_chat({}) == {
        "id": "", "object": "text_completion", "created": 0, "model": "", "choices": []
    }


def test_stream_chunks() -> None:
    content = {"id": "c", "created": 1, "model": "m",
               "choices": [{"index": 0, "delta": {"content": "He"}, "finish_reason": None}]}
    assert completions.completion_chunk_from_chat(content) == {
        "id": "c", "object": "text_completion", "created": 1, "model": "m",
        "choices": [{"finish_reason": "", "index": 0, "text": "He"}],
    }
    finish = {"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}
    assert completions.completion_chunk_from_chat(finish) == {
        "id": "c", "object": "text_completion", "created": 0, "model": "",
        "choices": [{"finish_reason": "length", "index": 0, "text": ""}],
    }


def test_stream_chunks_without_content_or_finish_are_dropped() -> None:
    role_only = {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}
    usage_only = {"choices": [], "usage": {"total_tokens": 3}}
    literal_null = {"choices": [{"index": 0, "delta": {}, "finish_reason": "null"}]}
    assert completions.completion_chunk_from_chat(role_only) is None
    assert completions.completion_chunk_from_chat(usage_only) is None
    assert completions.completion_chunk_from_chat(literal_null) is None
    assert completions.completion_chunk_from_chat({"id": "x"}) is None


@pytest.mark.parametrize(("value", "expected"), [
    (1e300, 2**63 - 1), (2**63, 2**63 - 1), (-1e300, -(2**63)), (7.9, 7), ("7", 7), ("-7", -7),
    (True, 1), (None, 0)])
def test_integer_fields_read_as_gjson_int(value: object, expected: int) -> None:
    assert completions.chat_request({"max_tokens": value})["max_tokens"] == expected
    assert completions.chat_request({"top_logprobs": value})["top_logprobs"] == expected


# gjson v1.18.0 ``Int()`` reads a string with its ``parseInt``: an optional "-" and ASCII digits,
# nothing else, so "16.7", "1e3", " 5", "+5" and "inf" are all 0 (Go's strconv is never asked).
@pytest.mark.parametrize("value", ["16.7", "1e3", " 5", "5 ", "+5", "inf", "nan", "1e400", "", "５"])
def test_integer_fields_from_strings_other_than_plain_digits_are_zero(value: str) -> None:
    out = completions.chat_request({"max_tokens": value, "top_logprobs": value})
    assert (out["max_tokens"], out["top_logprobs"]) == (0, 0)


# gjson ``Float()`` is strconv.ParseFloat with the error dropped: what Go refuses is 0.
@pytest.mark.parametrize(("value", "expected"), [
    ("0.25", 0.25), ("1e-1", 0.1), (".5", 0.5), ("2", 2), ("-Inf", -math.inf), ("infinity", math.inf),
    ("0x1p-2", 0.25), ("-0X1P1", -2),
    (" 0.5", 0), ("0.5 ", 0), ("0_5", 0), ("1_000", 0), ("０.５", 0), ("0x10", 0), ("+nan", 0), ("-NaN", 0),
    ("0.5x", 0), ("", 0)])
def test_float_fields_from_strings_read_as_go_parse_float(value: str, expected: float) -> None:
    out = completions.chat_request({key: value for key in ("temperature", "top_p", "frequency_penalty",
                                                           "presence_penalty")})
    assert [out[key] for key in ("temperature", "top_p", "frequency_penalty", "presence_penalty")] == [expected] * 4


def test_answer_numbers_read_as_gjson_int() -> None:
    chat = {"id": 5, "created": "1.7e9", "model": None,
            "choices": [{"index": "1", "message": {"content": "a"}}, {"index": 2.9, "message": {"content": "b"}}]}
    assert completions.completion_from_chat(chat) == {
        "id": "5", "object": "text_completion", "created": 0, "model": "",
        "choices": [{"index": 1, "text": "a"}, {"index": 2, "text": "b"}],
    }
    chunk = {"created": "12", "choices": [{"index": "0.0", "delta": {"content": "x"}}]}
    assert completions.completion_chunk_from_chat(chunk) == {
        "id": "", "object": "text_completion", "created": 12, "model": "",
        "choices": [{"index": 0, "text": "x"}],
    }


# openai_handlers.go:305-307 and :399-401 copy a choice's logprobs with gjson Value(), which makes
# objects Go maps; json.Marshal then writes their keys sorted, and every number as a float64.
CHAT_LOGPROBS = {"content": [{"token": "Hi", "logprob": -0.25, "bytes": [72, 105],
                              "top_logprobs": [{"token": "Hi", "logprob": -0.25, "bytes": [72, 105]}]}],
                 "refusal": None}
GO_LOGPROBS = b'{"content":[{"bytes":[72,105],"logprob":-0.25,"token":"Hi",' \
              b'"top_logprobs":[{"bytes":[72,105],"logprob":-0.25,"token":"Hi"}]}],"refusal":null}'


def test_logprobs_go_out_as_go_re_encodes_them() -> None:
    chat = {"choices": [{"index": 0, "message": {"content": "Hi"}, "finish_reason": "stop", "logprobs": CHAT_LOGPROBS}]}
    out = completions.completion_from_chat(chat)
    assert dumps(out["choices"][0]["logprobs"]) == GO_LOGPROBS
    chunk = {"choices": [{"index": 0, "delta": {"content": "Hi"}, "logprobs": CHAT_LOGPROBS}]}
    streamed = completions.completion_chunk_from_chat(chunk)
    assert streamed is not None and dumps(streamed["choices"][0]["logprobs"]) == GO_LOGPROBS
    # A whole float64 has no fraction in Go's encoding; an integer past 2**53 is rounded to one.
    odd = {"choices": [{"message": {}, "logprobs": {"b": 1.0, "a": [2**53 + 1, None, True, "x"]}}]}
    assert dumps(completions.completion_from_chat(odd)["choices"][0]["logprobs"]) == \
        b'{"a":[9007199254740992,null,true,"x"],"b":1}'


def test_stream_chunks_without_text_are_dropped_whatever_else_they_carry() -> None:
    """Only delta content or a finish reason counts (openai_handlers.go:334-352): reasoning and
    tool-call deltas go nowhere; a finish chunk goes out without its tool calls or usage."""
    reasoning = {"choices": [{"index": 0, "delta": {"reasoning_content": "hmm"}, "finish_reason": None}]}
    call = {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}}]}
    assert completions.completion_chunk_from_chat(reasoning) is None
    assert completions.completion_chunk_from_chat(call) is None
    finish = {"id": "c", "created": 3, "model": "m", "usage": {"total_tokens": 4},
              "choices": [{"index": 0, "delta": {"tool_calls": []}, "finish_reason": "tool_calls"}]}
    assert completions.completion_chunk_from_chat(finish) == {
        "id": "c", "object": "text_completion", "created": 3, "model": "m",
        "choices": [{"finish_reason": "tool_calls", "index": 0, "text": ""}],
    }


def test_one_choice_with_output_carries_every_choice_of_the_chunk() -> None:
    chunk = {"choices": [{"index": 0, "delta": {"role": "assistant"}}, "odd",
                         {"index": 1, "delta": {"content": 7}, "finish_reason": None}]}
    assert completions.completion_chunk_from_chat(chunk) == {
        "id": "", "object": "text_completion", "created": 0, "model": "",
        "choices": [{"index": 0, "text": ""}, {"index": 0, "text": ""},
                    {"finish_reason": "", "index": 1, "text": "7"}],
    }


def test_non_stream_text_comes_from_message_else_delta() -> None:
    """openai_handlers.go:286-297: a ``message`` that exists (even null) is the only source."""
    chat = {"choices": [{"delta": {"content": "d"}}, {"message": None, "delta": {"content": "d"}},
                        {"message": {"content": ["p"]}}, {"message": {"role": "assistant"}}]}
    assert completions.completion_from_chat(chat)["choices"] == [
        {"index": 0, "text": "d"}, {"index": 0}, {"index": 0, "text": '["p"]'}, {"index": 0}]


def test_answers_are_written_as_the_legacy_writes_them() -> None:
    """openai_handlers.go:260-319 and :359-413: the template's strings go in with sjson (as they
    are, unless a byte needs escaping: a quote, a backslash, a control or non-ASCII byte, and then
    json.Marshal writes the whole string), the choices with json.Marshal (``<``, ``>``, ``&`` and
    U+2028/U+2029 escaped, numbers as float64), the usage as the upstream wrote it."""
    chat = {"id": "c<1>", "created": 3, "model": "m\u00e9<", "usage": {"total_tokens": 4},
            "choices": [{"index": 0, "message": {"content": "if a < b && c > d\u2028"}, "finish_reason": "stop",
                         "logprobs": {"x": [1e21, 1e-7, 2]}}]}
    assert completions.encode(completions.completion_from_chat(chat)) == (
        b'{"id":"c<1>","object":"text_completion","created":3,"model":"m\xc3\xa9\\u003c","choices":'
        b'[{"finish_reason":"stop","index":0,"logprobs":{"x":[1e+21,1e-7,2]},'
        b'"text":"if a \\u003c b \\u0026\\u0026 c \\u003e d\\u2028"}],"usage":{"total_tokens":4}}')
    chunk = {"id": "c<1>", "created": 3, "model": 'm"<',
             "choices": [{"index": 0, "delta": {"content": "<b>"}, "finish_reason": None}]}
    converted = completions.completion_chunk_from_chat(chunk)
    assert converted is not None and completions.encode(converted) == (
        b'{"id":"c<1>","object":"text_completion","created":3,"model":"m\\"\\u003c",'
        b'"choices":[{"finish_reason":"","index":0,"text":"\\u003cb\\u003e"}]}')
