"""Vertex AI service-account credentials (``type: vertex`` files): Gemini JSON on aiplatform.

Legacy: ``gemini_vertex_executor.go`` service-account branch (reference: providers §5.4). URL
``https://<location>-aiplatform.googleapis.com/v1/projects/<project>/locations/<location>/
publishers/google/models/<model>:<action>`` (location defaults to ``us-central1``), with
``Authorization: Bearer <token minted from the service account>``. Bodies and streams are plain
Gemini. The access token comes from the credential's token source (a JWT-bearer grant, see
``handlers.credentials.tokens.ServiceAccountTokens``). Imagen models are called with ``predict``
(``vertex_api.ImagenPredict``).
"""

from __future__ import annotations

from handlers.translation.model import Format
from handlers.translation.sse import normalise_alt

from .base import HeaderSet, PreparedRequest, UpstreamRequest, json_bytes, transport_error
from .gemini_api import GeminiAPIExecutor
from .oauth_base import OAuthCredential, OAuthExecutor
from .vertex_api import ImagenPredict

DEFAULT_LOCATION = "us-central1"
API_VERSION = "v1"


def vertex_base_url(location: str) -> str:
    return f"https://{location.strip() or DEFAULT_LOCATION}-aiplatform.googleapis.com"


class VertexServiceAccountExecutor(ImagenPredict, OAuthExecutor, GeminiAPIExecutor):
    name = "vertex"
    filters_usage_metadata = False
    upstream_format = Format.GEMINI

    def precheck(self, credential: OAuthCredential, request: UpstreamRequest) -> None:  # type: ignore[override]
        if not credential.project_id:
            # vertexCreds' plain error (gemini_vertex_executor.go:949-951): no status, so 500, and
            # checked before anything else about the request.
            raise transport_error("vertex executor: missing project_id in credentials")
        self.check_imagen(request)

    def prepare(self, credential: OAuthCredential, request: UpstreamRequest) -> PreparedRequest:  # type: ignore[override]
        body = self.request_body(request)
        action = self.action(request)
        location = credential.location or DEFAULT_LOCATION
        base = (credential.base_url or vertex_base_url(location)).rstrip("/")
        url = (f"{base}/{API_VERSION}/projects/{credential.project_id}/locations/{location}"
               f"/publishers/google/models/{request.base_model}:{action}")
        alt = normalise_alt(request.alt)
        if request.stream and action != "countTokens":
            url += f"?$alt={alt}" if alt else "?alt=sse"
        elif alt and action != "countTokens":
            url += f"?$alt={alt}"
        headers = HeaderSet()
        headers.set("Content-Type", "application/json")
        headers.set("Authorization", "Bearer " + credential.token)
        return PreparedRequest("POST", url, headers.items(), json_bytes(body),
                               raw_stream=request.stream and bool(alt))
