"""OAuth-backed upstreams that speak OpenAI Chat Completions: Qwen, iFlow, GitHub Copilot.

Legacy: ``qwen_executor.go``, ``iflow_executor.go`` (reference: providers §9.4, §6.4) and
CLIProxyAPIPlus ``github_copilot_executor.go`` (§4.4). All three post to
``{base}/chat/completions`` and stream SSE ending in ``[DONE]``; they differ in base URL, token,
identity headers and a few body edits:

* qwen: base ``https://<resource_url>/v1``, else ``https://portal.qwen.ai/v1``; the access token;
  streams get the ``do_not_call_me`` decoy tool when there are no tools, and
  ``stream_options.include_usage``.
* iflow: base ``https://apis.iflow.cn/v1``; the file's ``api_key``; a stream's empty ``tools``
  gets a ``noop`` tool.
* github-copilot: base ``https://api.githubcopilot.com``; the exchanged Copilot API token;
  streams get ``stream_options.include_usage``.

A configured base URL override wins over all of these. None of them reads a retry hint: a 429
gets the conductor's exponential cooldown.
"""

from __future__ import annotations

import uuid
from abc import abstractmethod
from collections.abc import Callable, Mapping
from typing import Any

from handlers.translation.model import Format

from .base import HeaderSet, PreparedRequest, UpstreamError, UpstreamRequest, json_bytes, transport_error
from .oauth_base import OAuthCredential, OAuthExecutor
from .openai_compat import OpenAICompatExecutor

QWEN_DEFAULT_BASE = "https://portal.qwen.ai/v1"
QWEN_USER_AGENT = "google-api-nodejs-client/9.15.1"
QWEN_API_CLIENT = "gl-node/22.17.0"
QWEN_CLIENT_METADATA = "ideType=IDE_UNSPECIFIED,platform=PLATFORM_UNSPECIFIED,pluginType=GEMINI"
# Qwen3 inserts stray tokens into streams when no tool is defined; the legacy defines a decoy.
QWEN_DECOY_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "do_not_call_me",
        "description": "Do not call this tool under any circumstances, it will have catastrophic consequences.",
        "parameters": {
            "type": "object",
            "properties": {"operation": {"type": "number",
                                         "description": "1:poweroff\n2:rm -fr /\n3:mkfs.ext4 /dev/sda1"}},
            "required": ["operation"],
        },
    },
}

IFLOW_DEFAULT_BASE = "https://apis.iflow.cn/v1"
IFLOW_USER_AGENT = "iFlow-Cli"
IFLOW_NOOP_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {"name": "noop", "description": "Placeholder tool to stabilise streaming",
                 "parameters": {"type": "object"}},
}

COPILOT_DEFAULT_BASE = "https://api.githubcopilot.com"
COPILOT_USER_AGENT = "GithubCopilot/1.0"
COPILOT_EDITOR_VERSION = "vscode/1.100.0"
COPILOT_PLUGIN_VERSION = "copilot/1.300.0"
COPILOT_INTEGRATION_ID = "vscode-chat"
COPILOT_INTENT = "conversation-panel"


class _ChatExecutor(OAuthExecutor, OpenAICompatExecutor):
    """Shared send path; subclasses give the base URL, headers and body edits."""

    upstream_format = Format.OPENAI

    def precheck(self, credential: OAuthCredential, request: UpstreamRequest) -> None:  # type: ignore[override]
        return None  # every provider here has a default base URL

    @abstractmethod
    def base(self, credential: OAuthCredential) -> str:
        """The inference base URL (``/chat/completions`` is appended)."""

    def chat_url(self, credential: OAuthCredential) -> str:
        # Qwen and iFlow drop exactly one trailing "/" before the path (qwen_executor.go:96,189;
        # iflow_executor.go:103,206), so a base ending in "//" still yields "//chat/completions".
        return self.base(credential).removesuffix("/") + "/chat/completions"

    # Whether ``edit_body`` runs before the payload rules (Qwen, iFlow: qwen_executor.go:180-187,
    # iflow_executor.go:199-204) or after them, in ``prepare``.
    edits_before_payload = False

    def edit_body(self, body: dict[str, Any], stream: bool) -> None:
        return None

    def before_payload(self, credential: Any, body: dict[str, Any], base_model: str,
                       client_headers: Mapping[str, str], stream: bool) -> bool:
        super().before_payload(credential, body, base_model, client_headers, stream)
        if self.edits_before_payload:
            self.edit_body(body, stream)
        return True

    @abstractmethod
    def auth_headers(self, headers: HeaderSet, credential: OAuthCredential, request: UpstreamRequest) -> None:
        """Every header of the call, in the legacy's order."""

    def prepare(self, credential: OAuthCredential, request: UpstreamRequest) -> PreparedRequest:  # type: ignore[override]
        body: dict[str, Any] = dict(request.body)
        if not request.shaped:  # set before the payload rules (qwen_executor.go:87-94, iflow_executor.go:93-101)
            body["model"] = request.base_model
        if not (request.shaped and self.edits_before_payload):
            self.edit_body(body, request.stream)
        headers = HeaderSet()
        self.auth_headers(headers, credential, request)
        return PreparedRequest("POST", self.chat_url(credential), headers.items(), json_bytes(body))


def _no_tools(body: dict[str, Any]) -> bool:
    # qwen_executor.go:183: absent or an empty array; an explicit ``"tools": null`` exists for
    # gjson and is no array, so it gets no decoy.
    if "tools" not in body:
        return True
    tools = body["tools"]
    return isinstance(tools, list) and not tools


def _include_usage(body: dict[str, Any]) -> None:
    options = body.get("stream_options")
    body["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}


class QwenExecutor(_ChatExecutor):
    name = "qwen"
    thinking_on_count = False  # qwen_executor.go CountTokens translates, then counts

    def base(self, credential: OAuthCredential) -> str:
        # The override is the gateway's own (gateway.provider-endpoints): legacy qwen files never
        # carry a base_url attribute, and an operator who sets one means every call to go there.
        # Otherwise the file's host gets the legacy's https:// prefix and /v1 suffix as written,
        # with no scheme check (qwen_executor.go:362-363) and the default when absent (:72-73).
        if credential.base_url:
            return credential.base_url
        if credential.resource_url:
            return f"https://{credential.resource_url}/v1"
        return QWEN_DEFAULT_BASE

    edits_before_payload = True

    def edit_body(self, body: dict[str, Any], stream: bool) -> None:
        if stream:
            if _no_tools(body):
                body["tools"] = [QWEN_DECOY_TOOL]
            _include_usage(body)

    def auth_headers(self, headers: HeaderSet, credential: OAuthCredential, request: UpstreamRequest) -> None:
        headers.set("Content-Type", "application/json")
        headers.set("Authorization", "Bearer " + credential.token)
        headers.set("User-Agent", QWEN_USER_AGENT)
        headers.set("X-Goog-Api-Client", QWEN_API_CLIENT)
        headers.set("Client-Metadata", QWEN_CLIENT_METADATA)
        headers.set("Accept", "text/event-stream" if request.stream else "application/json")


class IFlowExecutor(_ChatExecutor):
    """iFlow calls use the API key the login fetched, not the OAuth access token: the token
    source of an iflow credential yields ``api_key``."""

    name = "iflow"
    thinking_target = "iflow"
    thinking_on_count = False  # iflow_executor.go CountTokens translates, then counts

    def base(self, credential: OAuthCredential) -> str:
        return credential.base_url or IFLOW_DEFAULT_BASE

    edits_before_payload = True

    def edit_body(self, body: dict[str, Any], stream: bool) -> None:
        if stream and isinstance(body.get("tools"), list) and not body["tools"]:
            body["tools"] = [IFLOW_NOOP_TOOL]

    def auth_headers(self, headers: HeaderSet, credential: OAuthCredential, request: UpstreamRequest) -> None:
        headers.set("Content-Type", "application/json")
        headers.set("Authorization", "Bearer " + credential.token)
        headers.set("User-Agent", IFLOW_USER_AGENT)
        headers.set("Accept", "text/event-stream" if request.stream else "application/json")

    async def authorize(self, credential: OAuthCredential) -> OAuthCredential:
        try:
            return await super().authorize(credential)
        except UpstreamError as err:
            if err.status == 401 and err.body == b"missing access token":
                # The legacy's own words for a file without an API key, as a plain error with no
                # status (iflow_executor.go:74-77, 172-175): answered 500, like any status-less failure.
                raise transport_error("iflow executor: missing api key") from None
            raise


class CopilotExecutor(_ChatExecutor):
    name = "github-copilot"

    def __init__(self, client: Any, *, request_ids: Callable[[], str] | None = None) -> None:
        super().__init__(client)
        self._request_ids = request_ids or (lambda: str(uuid.uuid4()))

    async def count_locally(self, request: UpstreamRequest) -> bytes | None:
        return None  # Copilot answers 501 to counting (CLIProxyAPIPlus), see precheck

    def precheck(self, credential: OAuthCredential, request: UpstreamRequest) -> None:  # type: ignore[override]
        if request.action == "countTokens":
            raise UpstreamError("request", 501, b"count tokens not supported for github-copilot", reason="request")

    def base(self, credential: OAuthCredential) -> str:
        return credential.base_url or COPILOT_DEFAULT_BASE

    def chat_url(self, credential: OAuthCredential) -> str:
        # The Plus executor has a constant base, so only a configured override can end in "/":
        # every trailing "/" goes, as before.
        return self.base(credential).rstrip("/") + "/chat/completions"

    def edit_body(self, body: dict[str, Any], stream: bool) -> None:
        if stream:
            _include_usage(body)

    def auth_headers(self, headers: HeaderSet, credential: OAuthCredential, request: UpstreamRequest) -> None:
        # The legacy asks for JSON even on streams; the upstream streams on the body's flag.
        headers.set("Content-Type", "application/json")
        headers.set("Authorization", "Bearer " + credential.token)
        headers.set("Accept", "application/json")
        headers.set("User-Agent", COPILOT_USER_AGENT)
        headers.set("Editor-Version", COPILOT_EDITOR_VERSION)
        headers.set("Editor-Plugin-Version", COPILOT_PLUGIN_VERSION)
        headers.set("Openai-Intent", COPILOT_INTENT)
        headers.set("Copilot-Integration-Id", COPILOT_INTEGRATION_ID)
        headers.set("X-Request-Id", self._request_ids())
