"""``vertex-api-key`` entries: Vertex-style paths with an API key.

Legacy: ``gemini_vertex_executor.go`` API-key branch (reference: providers §5.5). URL
``{base-url}/v1/publishers/google/models/<model>:<action>`` (default base: the Generative
Language host), ``x-goog-api-key``, Gemini bodies and streams. Imagen models (``predict`` with a
converted body) are not handled natively: they are refused before any I/O.
"""

from __future__ import annotations

from .base import APIKeyCredential, UpstreamError, UpstreamRequest
from .gemini_api import DEFAULT_BASE_URL, GeminiAPIExecutor

API_VERSION = "v1"


class VertexAPIExecutor(GeminiAPIExecutor):
    name = "vertex"

    def base_url(self, credential: APIKeyCredential) -> str:
        return credential.base_url or DEFAULT_BASE_URL

    def model_url(self, credential: APIKeyCredential, model: str, action: str) -> str:
        return f"{self.base_url(credential)}/{API_VERSION}/publishers/google/models/{model}:{action}"

    def precheck(self, credential: APIKeyCredential, request: UpstreamRequest) -> None:
        if "imagen" in request.base_model.lower():
            raise UpstreamError("request", 400, b"imagen models are not served by the native vertex executor",
                                reason="request")
