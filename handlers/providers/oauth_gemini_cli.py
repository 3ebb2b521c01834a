"""Gemini CLI credentials (``type: gemini`` files): Cloud Code Assist ``v1internal``.

Legacy: ``gemini_cli_executor.go`` (reference: providers §1.4, §1.5). The body is the gemini-cli
envelope ``{"model", "project", "request": {...}}`` produced by translation; the executor sets
``project`` (the credential's project id; one per virtual credential of a multi-project file)
and ``model``, or removes both for ``countTokens``. URLs:

* ``POST {base}/v1internal:generateContent``
* ``POST {base}/v1internal:streamGenerateContent?alt=sse`` (``?$alt=<alt>`` for another alt)
* ``POST {base}/v1internal:countTokens``

Identity headers (``User-Agent``, ``X-Goog-Api-Client``, ``Client-Metadata``) let a client's own
values win. Stream chunks arrive wrapped as ``{"response": {...}}``; they are handed on wrapped
(upstream format ``gemini-cli``) and unwrapped only to find the end and in-band errors. A 429
carries the Google retry hint (RetryInfo / quotaResetDelay / "after Ns").

The legacy's preview-model fallback on 429 (``cliPreviewFallbackOrder``) is an empty list in
v6.7.15, so a 429 is final here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handlers.translation.model import Format
from handlers.translation.sse import normalise_alt

from .base import HeaderSet, PreparedRequest, StreamEvent, UpstreamError, UpstreamRequest, json_bytes
from .gemini_api import GeminiAPIExecutor, fix_image_aspect_ratio
from .oauth_base import OAuthCredential, OAuthExecutor

DEFAULT_BASE_URL = "https://cloudcode-pa.googleapis.com"
API_VERSION = "v1internal"
USER_AGENT = "google-api-nodejs-client/9.15.1"
API_CLIENT = "gl-node/22.17.0"
CLIENT_METADATA = "ideType=IDE_UNSPECIFIED,platform=PLATFORM_UNSPECIFIED,pluginType=GEMINI"


def unwrap(event: StreamEvent) -> StreamEvent:
    """The Gemini chunk inside a ``{"response": ...}`` envelope (the event itself otherwise)."""
    payload = event.payload
    if isinstance(payload, dict) and isinstance(payload.get("response"), dict):
        return StreamEvent(event.event, event.data, payload["response"], event.error)
    return event


class GeminiCLIExecutor(OAuthExecutor, GeminiAPIExecutor):
    name = "gemini-cli"
    filters_usage_metadata = False  # gemini_cli_executor.go does not filter
    bare_json_lines = False  # only data: lines reach its translator (gemini_cli_executor.go:393)
    upstream_format = Format.GEMINI_CLI
    google_hint = True

    def before_payload(self, credential: Any, body: dict[str, Any], base_model: str,
                       client_headers: Mapping[str, str], stream: bool) -> bool:
        # fixGeminiCLIImageAspectRatio, like the Gemini canvas fix, comes before the payload
        # rules (gemini_cli_executor.go:131-132, 280-281).
        inner = body.get("request")
        if isinstance(inner, dict):
            body["request"] = fix_image_aspect_ratio(inner, base_model)
        return True

    def prepare(self, credential: OAuthCredential, request: UpstreamRequest) -> PreparedRequest:  # type: ignore[override]
        body: dict[str, Any] = dict(request.body)
        inner = body.get("request")
        if isinstance(inner, dict) and not request.shaped:
            # fixGeminiCLIImageAspectRatio on a count, which has no payload rules to come first.
            body["request"] = fix_image_aspect_ratio(inner, request.base_model)
        action = self.action(request)
        if action == "countTokens":
            body.pop("project", None)
            body.pop("model", None)
        else:
            body["project"] = credential.project_id
            body["model"] = request.base_model
        alt = normalise_alt(request.alt)
        url = f"{(credential.base_url or DEFAULT_BASE_URL).rstrip('/')}/{API_VERSION}:{action}"
        if request.stream and action != "countTokens":
            url += f"?$alt={alt}" if alt else "?alt=sse"
        elif alt:
            # countTokens too (gemini_cli_executor.go:498-501).
            url += f"?$alt={alt}"
        headers = HeaderSet()
        headers.set("Content-Type", "application/json")
        headers.set("Authorization", "Bearer " + credential.token)
        client = request.client_headers
        headers.ensure(client, "User-Agent", USER_AGENT)
        headers.ensure(client, "X-Goog-Api-Client", API_CLIENT)
        headers.ensure(client, "Client-Metadata", CLIENT_METADATA)
        headers.set("Accept", "text/event-stream" if request.stream and action != "countTokens"
                    else "application/json")
        raw = request.stream and bool(alt)
        return PreparedRequest("POST", url, headers.items(), json_bytes(body), raw_stream=raw)

    def terminal(self, event: StreamEvent) -> bool:
        return GeminiAPIExecutor.terminal(self, unwrap(event))

    def inband_error(self, event: StreamEvent) -> UpstreamError | None:
        return GeminiAPIExecutor.inband_error(self, unwrap(event))
