"""``gemini-api-key`` entries: native Gemini at ``{base-url}/v1beta/models/<model>:<action>``.

Legacy: ``gemini_executor.go`` (reference: providers §5.6). Stream calls use
``:streamGenerateContent?alt=sse``, or ``?$alt=<alt>`` when the client asked for another ``alt``
(then the chunks are handed back raw). 429 bodies are not read for a retry hint: this executor
of v6.7.15 builds a plain ``statusErr``.
"""

from __future__ import annotations

import base64
import functools
import struct
import zlib
from collections.abc import Mapping
from typing import Any

from handlers.translation.sse import normalise_alt

from .base import (
    APIKeyCredential,
    Executor,
    HeaderSet,
    PreparedRequest,
    StreamEvent,
    UpstreamError,
    UpstreamRequest,
    inband_status_error,
    json_bytes,
)

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
API_VERSION = "v1beta"


IMAGE_PREVIEW_MODEL = "gemini-2.5-flash-image-preview"
# util.CreateWhiteImageBase64: the canvas size per aspect ratio (1024x1024 for anything else).
CANVAS_SIZES = {
    "1:1": (1024, 1024), "2:3": (832, 1248), "3:2": (1248, 832), "3:4": (864, 1184), "4:3": (1184, 864),
    "4:5": (896, 1152), "5:4": (1152, 896), "9:16": (768, 1344), "16:9": (1344, 768), "21:9": (1536, 672),
}
CANVAS_PROMPT = ("Based on the following requirements, create an image within the uploaded picture. The new "
                 "content *MUST* completely cover the entire area of the original picture, maintaining its exact "
                 "proportions, and *NO* blank areas should appear.")


@functools.lru_cache(maxsize=16)
def white_png_base64(aspect_ratio: str) -> str:
    """An all-white opaque PNG of the legacy's canvas size (the legacy's encoder output differs in
    its compressed bytes only; the pixels are the same)."""
    width, height = CANVAS_SIZES.get(aspect_ratio, (1024, 1024))
    row = b"\x00" + b"\xff" * (width * 3)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(row * height, 9))
           + chunk(b"IEND", b""))
    return base64.b64encode(png).decode()


def fix_image_aspect_ratio(body: dict[str, Any], model: str) -> dict[str, Any]:
    """``fixGeminiImageAspectRatio`` (gemini_executor.go:500-540): for the image preview model,
    ``generationConfig.imageConfig.aspectRatio`` becomes a white canvas of that ratio put before
    the first turn's parts (with the legacy's instruction) when no turn carries an image yet, plus
    ``responseModalities: ["IMAGE", "TEXT"]``; ``imageConfig`` is removed either way. ``body`` is
    the Gemini request (for the envelope formats pass its ``request`` object)."""
    if model != IMAGE_PREVIEW_MODEL:
        return body
    config = body.get("generationConfig")
    image_config = config.get("imageConfig") if isinstance(config, dict) else None
    if not isinstance(image_config, dict) or "aspectRatio" not in image_config:
        return body
    out = dict(body)
    config = {k: v for k, v in config.items() if k != "imageConfig"}  # type: ignore[union-attr]
    contents = out.get("contents")
    if isinstance(contents, list) and contents:
        has_image = any(isinstance(part, dict) and "inlineData" in part
                        for content in contents if isinstance(content, dict)
                        for part in (content.get("parts") if isinstance(content.get("parts"), list) else ()))
        if not has_image:
            ratio = image_config["aspectRatio"]
            canvas = {"inlineData": {"mime_type": "image/png",
                                     "data": white_png_base64(ratio if isinstance(ratio, str) else "")}}
            first = contents[0] if isinstance(contents[0], dict) else {}
            own = first.get("parts") if isinstance(first.get("parts"), list) else []
            contents = [{**first, "parts": [{"text": CANVAS_PROMPT}, canvas, *own]}, *contents[1:]]
            out["contents"] = contents
            config["responseModalities"] = ["IMAGE", "TEXT"]
    out["generationConfig"] = config
    return out


# What a Gemini ``:countTokens`` call does not take. Dropped when the call is built, after the
# thinking step, which may have written ``generationConfig.thinkingConfig`` (gemini_executor.go:341-350,
# gemini_vertex_executor.go:776-785 and 860-869).
COUNT_DROPPED = ("tools", "generationConfig", "safetySettings")


def gemini_body(request: UpstreamRequest) -> dict[str, Any]:
    """The request body a Gemini-format executor sends (``generateContent`` or ``countTokens``)."""
    body: dict[str, Any] = dict(request.body)
    if not request.shaped:
        # A count gets no payload rules, so the canvas fix was not made before them.
        body = fix_image_aspect_ratio(body, request.base_model)
    body["model"] = request.base_model
    body.pop("session_id", None)
    if request.action == "countTokens":
        for key in COUNT_DROPPED:
            body.pop(key, None)
    return body


class GeminiAPIExecutor(Executor):
    name = "gemini"
    filters_usage_metadata = True  # gemini_executor.go:305
    # gemini_executor.go:306 and antigravity_executor.go:358,725 read lines with jsonPayload; the
    # Vertex executor hands every line to translators that take bare JSON alike
    # (gemini_vertex_executor.go:620-627).
    bare_json_lines = True

    def base_url(self, credential: APIKeyCredential) -> str:
        return credential.base_url.rstrip("/") or DEFAULT_BASE_URL

    def model_url(self, credential: APIKeyCredential, model: str, action: str) -> str:
        return f"{self.base_url(credential)}/{API_VERSION}/models/{model}:{action}"

    def action(self, request: UpstreamRequest) -> str:
        if request.action == "countTokens":
            return "countTokens"
        return "streamGenerateContent" if request.stream else "generateContent"

    def before_payload(self, credential: Any, body: dict[str, Any], base_model: str,
                       client_headers: Mapping[str, str], stream: bool) -> bool:
        # fixGeminiImageAspectRatio runs between the thinking step and the payload rules
        # (gemini_executor.go:128-129, gemini_vertex_executor.go:440-441, 666-667), so a rule may
        # still set ``imageConfig`` or ``responseModalities`` after the canvas was drawn.
        fixed = fix_image_aspect_ratio(body, base_model)
        if fixed is not body:
            body.clear()
            body.update(fixed)
        return True

    def request_body(self, request: UpstreamRequest) -> dict[str, Any]:
        return gemini_body(request)

    def prepare(self, credential: APIKeyCredential, request: UpstreamRequest) -> PreparedRequest:
        body = self.request_body(request)
        action = self.action(request)
        alt = normalise_alt(request.alt)
        url = self.model_url(credential, request.base_model, action)
        if request.stream and action != "countTokens":
            url += f"?$alt={alt}" if alt else "?alt=sse"
        elif alt and action != "countTokens":
            url += f"?$alt={alt}"
        headers = HeaderSet()
        headers.set("Content-Type", "application/json")
        if credential.api_key:
            headers.set("x-goog-api-key", credential.api_key)
        headers.apply_custom(credential.headers)
        raw = request.stream and bool(alt)
        return PreparedRequest("POST", url, headers.items(), json_bytes(body), raw_stream=raw)

    @property
    def terminal_name(self) -> str:
        return "a finishReason"

    def terminal(self, event: StreamEvent) -> bool:
        # Gemini has no end marker: the last candidate chunk carries finishReason, and a blocked
        # prompt ends with promptFeedback.blockReason and no candidates at all.
        payload = event.payload
        if not isinstance(payload, dict):
            return False
        feedback = payload.get("promptFeedback")
        if isinstance(feedback, dict) and feedback.get("blockReason"):
            return True
        candidates = payload.get("candidates")
        return isinstance(candidates, list) and any(
            isinstance(c, dict) and c.get("finishReason") for c in candidates)

    def inband_error(self, event: StreamEvent) -> UpstreamError | None:
        payload = event.payload
        error = payload.get("error") if isinstance(payload, dict) else None
        if not isinstance(error, dict):
            return None
        code = error.get("code")
        return inband_status_error(code if isinstance(code, int) and not isinstance(code, bool) else None,
                                   event.data)
