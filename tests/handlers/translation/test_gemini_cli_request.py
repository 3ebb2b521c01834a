"""Gemini CLI ``v1internal`` envelopes built from Gemini bodies (A2.13): the Gemini CLI variant of
the shared envelope, the Responses client on Gemini CLI, and unwrapping a Gemini CLI client's
envelope for the Gemini-client translators."""

from __future__ import annotations

from handlers.translation.gemini_cli_request import (
    EnvelopeError,
    envelope_gemini_body,
    render_responses_request,
    unwrap_cli_request,
)
from handlers.translation.gemini_request import safety_settings
from handlers.translation.openai_responses import parse_request as parse_responses

SKIP = "skip_thought_signature_validator"


def test_cli_envelope_signs_every_call_and_signed_part_and_keeps_thoughts() -> None:
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "q"}]},
            {
                "role": "model",
                "parts": [
                    {"thought": True, "text": "hmm", "thoughtSignature": "x" * 80},
                    {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "y" * 80},
                    {"text": "plain"},
                ],
            },
            {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]},
        ]
    }
    out = envelope_gemini_body(body, "gemini-2.5-pro", antigravity=False)
    assert out == {
        "project": "",
        "request": {
            "contents": [
                {"role": "user", "parts": [{"text": "q"}]},
                {
                    "role": "model",
                    "parts": [
                        {"thought": True, "text": "hmm", "thoughtSignature": SKIP},
                        {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": SKIP},
                        {"text": "plain"},
                    ],
                },
                {"parts": [{"functionResponse": {"name": "f", "response": {}}}], "role": "user"},
            ],
            "safetySettings": safety_settings(),
        },
        "model": "gemini-2.5-pro",
    }


def test_answers_feed_the_latest_group_that_can_take_them() -> None:
    call = {"functionCall": {"name": "f", "args": {}}}

    def answer(n: int) -> dict[str, object]:
        return {"functionResponse": {"name": "f", "response": {"n": n}}}

    body = {
        "contents": [
            {"role": "model", "parts": [call, call]},
            {"role": "model", "parts": [call]},
            {"role": "user", "parts": [answer(1)]},
            {"role": "user", "parts": [answer(2), answer(3)]},
            {"role": "user", "parts": [answer(4)]},
        ]
    }
    contents = envelope_gemini_body(body, "m", antigravity=False)["request"]["contents"]
    # The single-call group is satisfied first (latest group), the pair group at the next answers;
    # the fourth answer has no group left and is dropped.
    assert [c["parts"] for c in contents[2:]] == [[answer(1)], [answer(2), answer(3)]]
    assert [c["role"] for c in contents] == ["model", "model", "user", "model"]


def test_group_satisfied_at_the_end() -> None:
    call = {"functionCall": {"name": "f", "args": {}}}
    answer = {"functionResponse": {"name": "f", "response": {}}}
    body = {
        "contents": [
            {"role": "model", "parts": [call, call, call]},
            {"role": "user", "parts": [answer]},
            {"role": "user", "parts": [answer]},
            {"role": "user", "parts": [answer]},
        ]
    }
    contents = envelope_gemini_body(body, "m", antigravity=False)["request"]["contents"]
    assert contents[1] == {"parts": [answer, answer, answer], "role": "user"}


def test_missing_contents_is_an_error() -> None:
    try:
        envelope_gemini_body({"contents": "nope"}, "m", antigravity=False)
    except EnvelopeError as exc:
        assert str(exc) == "contents not found in input"
    else:
        raise AssertionError("an envelope without contents must be refused")


def test_responses_client_on_gemini_cli() -> None:
    body = {
        "instructions": "Be brief",
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"a":1}'},
            {"type": "function_call_output", "call_id": "c1", "output": "ok"},
        ],
        "max_output_tokens": 50,
    }
    out = render_responses_request(parse_responses(body), "gemini-2.5-pro", antigravity=False)
    assert out["model"] == "gemini-2.5-pro"
    request = out["request"]
    assert request["systemInstruction"] == {"parts": [{"text": "Be brief"}]}
    assert "system_instruction" not in request
    assert request["contents"] == [
        {"role": "user", "parts": [{"text": "hi"}]},
        {
            "role": "model",
            "parts": [{"functionCall": {"name": "f", "args": {"a": 1}, "id": "c1"}, "thoughtSignature": SKIP}],
        },
        {"parts": [{"functionResponse": {"name": "f", "response": {"result": "ok"}, "id": "c1"}}], "role": "user"},
    ]
    assert request["generationConfig"] == {"maxOutputTokens": 50}


def test_unwrap_cli_client_envelope() -> None:
    body = {
        "model": "gemini-2.5-pro",
        "project": "p",
        "request": {"systemInstruction": {"parts": [{"text": "S"}]}, "contents": [{"role": "user", "parts": []}]},
    }
    out = unwrap_cli_request(body, "upstream-model")
    assert out == {
        "contents": [{"role": "user", "parts": []}],
        "model": "upstream-model",
        "system_instruction": {"parts": [{"text": "S"}]},
    }
    assert list(out) == ["contents", "model", "system_instruction"]
    assert "systemInstruction" in body["request"]  # the client's body is left alone
    assert unwrap_cli_request({"request": "bad"}, "m") == {"model": "m"}
