"""``vertex-api-key`` entries: Vertex-style paths with an API key.

Legacy: ``gemini_vertex_executor.go`` API-key branch (reference: providers §5.5). URL
``{base-url}/v1/publishers/google/models/<model>:<action>`` (default base: the Generative
Language host), ``x-goog-api-key``, Gemini bodies and streams. An entry without a key registers
but every call fails before any I/O, as in the legacy. Imagen models (``predict`` with a
converted body) are not handled natively: they are refused before any I/O.
"""

from __future__ import annotations

from .base import APIKeyCredential, UpstreamError, UpstreamRequest, transport_error
from .gemini_api import DEFAULT_BASE_URL, GeminiAPIExecutor

API_VERSION = "v1"


class VertexAPIExecutor(GeminiAPIExecutor):
    name = "vertex"
    filters_usage_metadata = False  # gemini_vertex_executor.go passes usage on every chunk

    def base_url(self, credential: APIKeyCredential) -> str:
        return credential.base_url or DEFAULT_BASE_URL

    def model_url(self, credential: APIKeyCredential, model: str, action: str) -> str:
        return f"{self.base_url(credential)}/{API_VERSION}/publishers/google/models/{model}:{action}"

    def precheck(self, credential: APIKeyCredential, request: UpstreamRequest) -> None:
        if not credential.api_key:
            # The legacy falls back to the service-account branch for an entry without a key, and
            # a config entry has no service account: a plain error (no status, so 500) before any
            # call (gemini_vertex_executor.go:240-245, 936-939).
            raise transport_error("vertex executor: missing auth metadata")
        if "imagen" in request.base_model.lower():
            raise UpstreamError("request", 400, b"imagen models are not served by the native vertex executor",
                                reason="request")
