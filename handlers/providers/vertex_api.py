"""``vertex-api-key`` entries: Vertex-style paths with an API key.

Legacy: ``gemini_vertex_executor.go`` API-key branch (reference: providers §5.5). URL
``{base-url}/v1/publishers/google/models/<model>:<action>`` (default base: the Generative
Language host), ``x-goog-api-key``, Gemini bodies and streams. An entry without a key registers
but every call fails before any I/O, as in the legacy. Imagen models are called with ``predict``
(``ImagenPredict``, shared with the service-account executor).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .base import APIKeyCredential, UpstreamRequest, UpstreamResult, transport_error
from .gemini_api import DEFAULT_BASE_URL, GeminiAPIExecutor
from .http import AnswerStream
from .vertex_imagen import PREDICT, ImagenPromptMissing, imagen_request, imagen_to_gemini, is_imagen

API_VERSION = "v1"


class ImagenPredict:
    """Imagen models on both Vertex executors: the call goes to ``:predict`` with a body built
    from the client's request, and its ``predictions`` come back as a Gemini answer.

    The legacy converts only on the service-account branch; its API-key branch sends the Gemini
    translation to ``:predict`` and hands the answer on unconverted, which Vertex refuses, so both
    convert here (docs/compatibility.md row 51). ``predict`` does not stream: a stream client gets
    the whole answer as the stream's one chunk, where the legacy sends the Gemini translation to
    ``:predict`` and reads the answer as SSE. Token counting is a plain Gemini ``countTokens``
    call, as in the legacy.
    """

    @staticmethod
    def imagen_call(request: UpstreamRequest) -> bool:
        return request.action != "countTokens" and is_imagen(request.base_model)

    def check_imagen(self, request: UpstreamRequest) -> None:
        if not self.imagen_call(request):
            return
        try:
            # Checked here, before the service-account branch mints a token, as the legacy
            # converts the body first; ``request_body`` builds it again when the call is prepared.
            imagen_request(request.client_body or {})
        except ImagenPromptMissing as exc:
            # A plain error in the legacy (no status): 500, after every credential was tried.
            raise transport_error(str(exc)) from exc

    def action(self, request: UpstreamRequest) -> str:
        return PREDICT if self.imagen_call(request) else super().action(request)  # type: ignore[misc]

    def request_body(self, request: UpstreamRequest) -> dict[str, Any]:
        if self.imagen_call(request):
            return imagen_request(request.client_body or {})
        return super().request_body(request)  # type: ignore[misc]

    async def execute(self, credential: Any, request: UpstreamRequest) -> UpstreamResult:
        result: UpstreamResult = await super().execute(credential, request)  # type: ignore[misc]
        if not self.imagen_call(request):
            return result
        return UpstreamResult(result.status, result.headers, imagen_to_gemini(result.body, request.base_model))

    async def stream(self, credential: Any, request: UpstreamRequest) -> Any:
        if not self.imagen_call(request):
            return await super().stream(credential, request)  # type: ignore[misc]
        result = await self.execute(credential, replace(request, stream=False))
        return AnswerStream(result)


class VertexAPIExecutor(ImagenPredict, GeminiAPIExecutor):
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
        self.check_imagen(request)
