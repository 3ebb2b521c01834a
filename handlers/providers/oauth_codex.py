"""Codex OAuth credentials (``type: codex`` files): the ChatGPT backend Responses endpoint.

Legacy: ``codex_executor.go`` (reference: providers §3.4). Identical to the ``codex-api-key``
executor (always streamed upstream, ``response.completed`` folded for non-stream calls, 408 on a
truncated stream) plus the two headers only OAuth credentials send: ``Originator: codex_cli_rs``
and ``Chatgpt-Account-Id`` when the file has an ``account_id``.
"""

from __future__ import annotations

from handlers.translation.model import Format

from .base import APIKeyCredential, HeaderSet, PreparedRequest, UpstreamRequest
from .codex_api import CodexAPIExecutor
from .oauth_base import OAuthCredential, OAuthExecutor

ORIGINATOR = "codex_cli_rs"


class CodexOAuthExecutor(OAuthExecutor, CodexAPIExecutor):
    name = "codex"
    upstream_format = Format.CODEX

    def prepare(self, credential: OAuthCredential, request: UpstreamRequest) -> PreparedRequest:  # type: ignore[override]
        keyed = APIKeyCredential("codex", credential.token, credential.base_url, credential.proxy_url)
        prepared = CodexAPIExecutor.prepare(self, keyed, request)
        headers = HeaderSet()
        for name, value in prepared.headers:
            headers.set(name, value)
        headers.set("Originator", ORIGINATOR)
        # The legacy sends the header whenever the field is a string, even an empty one.
        account = credential.metadata.get("account_id")
        if isinstance(account, str):
            headers.set("Chatgpt-Account-Id", account)
        return PreparedRequest(prepared.method, prepared.url, headers.items(), prepared.body, prepared.raw_stream)
