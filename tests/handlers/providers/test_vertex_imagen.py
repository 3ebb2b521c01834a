"""Imagen's predict body and answer (gemini_vertex_executor.go convertToImagenRequest and
convertImagenToGeminiResponse; providers §5.4)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.providers.vertex_imagen import ImagenPromptMissing, imagen_request, imagen_to_gemini, is_imagen


@pytest.mark.parametrize(("model", "imagen"), [("imagen-4.0-generate-001", True), ("IMAGEN-3", True),
                                               ("my-Imagen-alias", True), ("gemini-2.5-flash-image", False)])
def test_imagen_models_are_named_so(model: str, imagen: bool) -> None:
    assert is_imagen(model) is imagen


@pytest.mark.parametrize(("body", "prompt"), [
    # Gemini client: the first part of the first turn only.
    ({"contents": [{"parts": [{"text": "g"}, {"text": "second"}]}, {"parts": [{"text": "later"}]}]}, "g"),
    # An empty first text falls through to messages, then to prompt.
    ({"contents": [{"parts": [{"text": ""}]}], "messages": [{"content": "m"}]}, "m"),
    ({"contents": [{"parts": [{"inlineData": {}}]}], "prompt": "p"}, "p"),
    # The first non-empty message content whatever its role; an array content is its JSON text.
    ({"messages": [{"role": "system", "content": ""}, {"role": "user", "content": "u"}]}, "u"),
    ({"messages": [{"role": "user"}, {"role": "user", "content": [{"type": "text", "text": "t"}]}]},
     '[{"type":"text","text":"t"}]'),
    ({"messages": [{"content": None}, {"content": 7}]}, "7"),
    ({"prompt": "complete me"}, "complete me"),
    ({"prompt": 1.5}, "1.5"),
])
def test_the_prompt_is_found_where_the_legacy_looks(body: dict[str, Any], prompt: str) -> None:
    assert imagen_request(body) == {"instances": [{"prompt": prompt}], "parameters": {"sampleCount": 1}}


@pytest.mark.parametrize("body", [{}, {"input": "a Responses body"}, {"messages": []}, {"messages": "x"},
                                  {"contents": [], "prompt": ""}, {"messages": [{"content": None}]}])
def test_no_prompt_is_the_legacy_error(body: dict[str, Any]) -> None:
    with pytest.raises(ImagenPromptMissing) as caught:
        imagen_request(body)
    assert str(caught.value) == "imagen: no prompt found in request"


def test_optional_fields_read_as_gjson_reads_them() -> None:
    body = {"prompt": "p", "aspectRatio": 1.25, "sampleCount": "4", "negativePrompt": None}
    assert imagen_request(body) == {"instances": [{"negativePrompt": "", "prompt": "p"}],
                                    "parameters": {"aspectRatio": "1.25", "sampleCount": 4}}
    assert imagen_request({"prompt": "p", "sampleCount": 2.9})["parameters"] == {"sampleCount": 2}


def test_predictions_become_one_gemini_candidate() -> None:
    data = orjson.dumps({"predictions": [{"bytesBase64Encoded": "AAA"}, {"bytesBase64Encoded": ""},
                                         {"mimeType": "image/jpeg"}, "junk", {"bytesBase64Encoded": "BBB",
                                                                             "mimeType": "image/webp"}]})
    out = imagen_to_gemini(data, "imagen-3.0-fast-generate-001", now_ns=123)
    assert out == orjson.dumps({
        "candidates": [{"content": {"parts": [{"inlineData": {"data": "AAA", "mimeType": "image/png"}},
                                              {"inlineData": {"data": "BBB", "mimeType": "image/webp"}}],
                                    "role": "model"}, "finishReason": "STOP"}],
        "modelVersion": "imagen-3.0-fast-generate-001", "responseId": "imagen-123",
        "usageMetadata": {"candidatesTokenCount": 0, "promptTokenCount": 0, "totalTokenCount": 0}})
    empty = orjson.loads(imagen_to_gemini(b'{"predictions":[]}', "m", now_ns=1))
    assert empty["candidates"][0]["content"]["parts"] == []


@pytest.mark.parametrize("data", [b'{"error":{"code":400}}', b'{"predictions":{}}', b"not json", b"[1]", b""])
def test_answers_without_a_predictions_array_pass_unchanged(data: bytes) -> None:
    assert imagen_to_gemini(data, "m") == data


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=8))
def test_any_client_json_gives_a_body_or_the_prompt_error(value: Any) -> None:
    body = value if isinstance(value, dict) else {"messages": value, "contents": value, "prompt": value}
    try:
        out = imagen_request(body)
    except ImagenPromptMissing:
        return
    assert isinstance(out["instances"][0]["prompt"], str) and out["instances"][0]["prompt"]
    assert isinstance(out["parameters"]["sampleCount"], int)
