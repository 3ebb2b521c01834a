"""The non-stream Responses object for Gemini answers: the legacy's own ids and reasoning item."""

from __future__ import annotations

import re

from handlers.translation.responses_from_gemini import render_gemini_response, response_id


def _answer(parts: list[dict], **extra: object) -> dict:
    return {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2, "thoughtsTokenCount": 3,
                              "totalTokenCount": 10},
            **extra}


def test_ids_reasoning_signature_and_message() -> None:
    payload = _answer([{"text": "Thinking ", "thought": True},
                       {"text": "hard", "thought": True, "thoughtSignature": "GSIG"},
                       {"text": "Hi"}], responseId="gemresp1", createTime="2025-01-02T03:04:05.123456Z")
    out = render_gemini_response(payload, {"model": "gemini-2.5-flash", "input": "x"}, now=lambda: 9)
    assert out["id"] == "resp_gemresp1"
    assert out["created_at"] == 1735787045
    assert out["output"] == [
        {"id": "rs_gemresp1", "type": "reasoning", "encrypted_content": "GSIG",
         "summary": [{"type": "summary_text", "text": "Thinking hard"}]},
        {"id": "msg_gemresp1_0", "type": "message", "status": "completed",
         "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": "Hi"}],
         "role": "assistant"},
    ]
    assert out["model"] == "gemini-2.5-flash"


def test_reasoning_without_signature_has_an_empty_one_and_a_prefixed_id_is_kept() -> None:
    out = render_gemini_response(_answer([{"text": "t", "thought": True}, {"text": "a"}], responseId="resp_x"),
                                 None)
    assert out["id"] == "resp_x"
    assert [(item["id"], item.get("encrypted_content")) for item in out["output"]] == [
        ("rs_x", ""), ("msg_x_0", None)]


def test_signature_alone_makes_a_reasoning_item_without_summary() -> None:
    out = render_gemini_response(_answer([{"thought": True, "thoughtSignature": "S1"}, {"text": "a"}],
                                         responseId="r"), None)
    assert out["output"][0] == {"id": "rs_r", "type": "reasoning", "encrypted_content": "S1"}
    assert out["output"][1]["id"] == "msg_r_0"


def test_calls_keep_their_ids_and_a_missing_response_id_is_made_up() -> None:
    payload = _answer([{"functionCall": {"name": "f", "args": {"a": 1}}}])
    out = render_gemini_response(payload, None, call_id=lambda: "call_1")
    assert re.fullmatch(r"resp_[0-9a-f]+_\d+", out["id"])
    assert out["output"] == [{"id": "fc_call_1", "type": "function_call", "status": "completed",
                              "arguments": '{"a":1}', "call_id": "call_1", "name": "f"}]
    assert response_id("") != response_id("")  # one per answer


def test_an_envelope_is_read_as_its_answer() -> None:
    payload = _answer([{"text": "t", "thought": True, "thoughtSignature": "S"}, {"text": "a"}], responseId="r")
    assert render_gemini_response({"response": payload}, None, now=lambda: 1) == \
        render_gemini_response(payload, None, now=lambda: 1)


def test_usage_without_total_token_count_reports_a_zero_total() -> None:
    # gemini_openai-responses_response.go:447-451 writes totalTokenCount or 0; the usage shape
    # stays the one every Responses answer has here (docs/compatibility.md row 24).
    payload = {"candidates": [{"content": {"role": "model", "parts": [{"text": "a"}]}, "finishReason": "STOP"}],
               "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2}, "responseId": "r"}
    assert render_gemini_response(payload, None, now=lambda: 1)["usage"] == {
        "input_tokens": 5, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 2,
        "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 0}


def test_a_blocked_prompt_keeps_its_usage() -> None:
    # No candidates, so no finish: the legacy still reads usageMetadata from the answer
    # (gemini_openai-responses_response.go:635-651).
    payload = {"promptFeedback": {"blockReason": "SAFETY"}, "responseId": "r",
               "usageMetadata": {"promptTokenCount": 3, "totalTokenCount": 3}}
    out = render_gemini_response(payload, None, now=lambda: 1)
    assert out["output"] == []
    assert out["usage"] == {
        "input_tokens": 3, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 0,
        "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 3}
