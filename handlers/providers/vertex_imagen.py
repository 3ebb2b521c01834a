"""Imagen on Vertex: the ``predict`` request built from a client's body, and the answer as Gemini.

Legacy: ``gemini_vertex_executor.go`` (``isImagenModel``, ``convertToImagenRequest``,
``convertImagenToGeminiResponse``; reference: providers §5.4). A model whose name contains
``imagen`` (any case) is called with ``:predict``. The body is built from the client's own request,
not the Gemini translation: the prompt is the first of ``contents[0].parts[0].text``, the first
non-empty ``messages[].content`` or ``prompt``, read as gjson's ``String()`` reads them (an array
content is its JSON text); ``aspectRatio``, ``sampleCount`` and ``negativePrompt`` are read from
the top level. The answer's ``predictions`` become one Gemini candidate of ``inlineData`` parts,
which the client's translator then renders like any Gemini image answer. No I/O here.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson

from handlers.translation.gjson_values import array_of, int_of, member_of, text_of

PREDICT = "predict"
DEFAULT_MIME_TYPE = "image/png"


class ImagenPromptMissing(ValueError):
    """The client's body names no prompt the legacy would find."""

    def __init__(self) -> None:
        super().__init__("imagen: no prompt found in request")


def is_imagen(model: str) -> bool:
    return "imagen" in model.lower()


def _first_part_text(body: Mapping[str, Any]) -> str:
    contents = array_of(body.get("contents"))
    parts = array_of(member_of(contents[0], "parts")) if contents else []
    return text_of(member_of(parts[0], "text")) if parts else ""


def _first_message_text(body: Mapping[str, Any]) -> str:
    for message in array_of(body.get("messages")):
        if isinstance(message, dict) and "content" in message:
            text = text_of(message["content"])
            if text:
                return text
    return ""


def imagen_request(body: Mapping[str, Any]) -> dict[str, Any]:
    """The ``predict`` body for a client's request; ``ImagenPromptMissing`` when it has no prompt."""
    prompt = _first_part_text(body) or _first_message_text(body) or text_of(body.get("prompt"))
    if not prompt:
        raise ImagenPromptMissing()
    instance: dict[str, Any] = {}
    if "negativePrompt" in body:
        instance["negativePrompt"] = text_of(body["negativePrompt"])
    instance["prompt"] = prompt
    parameters: dict[str, Any] = {}
    if "aspectRatio" in body:
        parameters["aspectRatio"] = text_of(body["aspectRatio"])
    parameters["sampleCount"] = int_of(body["sampleCount"]) if "sampleCount" in body else 1
    # Keys in the order Go's json.Marshal writes a map: sorted.
    return {"instances": [instance], "parameters": parameters}


def imagen_to_gemini(data: bytes, model: str, *, now_ns: int | None = None) -> bytes:
    """A ``predict`` answer as a Gemini ``generateContent`` answer; anything without a
    ``predictions`` array is passed on as it came."""
    try:
        answer = orjson.loads(data)
    except orjson.JSONDecodeError:
        return data
    predictions = answer.get("predictions") if isinstance(answer, dict) else None
    if not isinstance(predictions, list):
        return data
    parts = []
    for prediction in predictions:
        image = text_of(member_of(prediction, "bytesBase64Encoded"))
        if image:
            mime_type = text_of(member_of(prediction, "mimeType")) or DEFAULT_MIME_TYPE
            parts.append({"inlineData": {"data": image, "mimeType": mime_type}})
    stamp = time.time_ns() if now_ns is None else now_ns
    return orjson.dumps({
        "candidates": [{"content": {"parts": parts, "role": "model"}, "finishReason": "STOP"}],
        "modelVersion": model,
        "responseId": f"imagen-{stamp}",
        # Imagen reports no token counts; the legacy writes zeros so usage records still add up.
        "usageMetadata": {"candidatesTokenCount": 0, "promptTokenCount": 0, "totalTokenCount": 0},
    })
