"""``claude-api-key`` entries: Anthropic Messages at ``{base-url}/v1/messages?beta=true``.

Legacy: ``claude_executor.go`` (reference: providers §2.4, §2.6). The key goes in ``x-api-key``
only on ``https://api.anthropic.com`` itself; any other base URL gets ``Authorization: Bearer``.
Identity headers use ``EnsureHeader`` (a client's own value wins).

Cloaking (``applyCloaking``, claude_executor.go:936-985 and cloak_*.go) happens in
``before_payload``, before the pipeline's payload rules, as in the legacy
(claude_executor.go:106-117); ``prepare`` cloaks only a body that did not go through that hook.
The per-key ``cloak`` settings come from ``cloak_resolver`` (see ``cloak_settings_for``); without
one every credential uses the legacy default, mode ``auto``. The ``proxy_`` tool-name prefix for
OAuth tokens lives in ``oauth_claude.py``.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import compression_utils

from handlers.translation.gjson_values import text_of
from quotio_gateway.config.models import Config
from quotio_gateway.gostrings import go_trim

from .base import (
    APIKeyCredential,
    Executor,
    HeaderSet,
    PreparedRequest,
    StreamEvent,
    UpstreamError,
    UpstreamRequest,
    UpstreamResult,
    ensure_table,
    header_value,
    inband_status_error,
    json_bytes,
)
from .claude_tool_prefix import is_oauth_token, prefix_tools, strip_event, strip_response
from .oauth_base import MappedStream
from .whole_answers import claude_message_events

DEFAULT_BASE_URL = "https://api.anthropic.com"
CLAUDE_CODE_LINE = "You are Claude Code, Anthropic's official CLI for Claude."
DEFAULT_BETAS = ("claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14,"
                 "fine-grained-tool-streaming-2025-05-14")
IDENTITY_HEADERS = (
    ("Anthropic-Version", "2023-06-01"),
    ("Anthropic-Dangerous-Direct-Browser-Access", "true"),
    ("X-App", "cli"),
    ("X-Stainless-Helper-Method", "stream"),
    ("X-Stainless-Retry-Count", "0"),
    ("X-Stainless-Runtime-Version", "v24.3.0"),
    ("X-Stainless-Package-Version", "0.55.1"),
    ("X-Stainless-Runtime", "node"),
    ("X-Stainless-Lang", "js"),
    ("X-Stainless-Arch", "arm64"),
    ("X-Stainless-Os", "MacOS"),
    ("X-Stainless-Timeout", "60"),
    ("User-Agent", "claude-cli/1.0.83 (external, cli)"),
)

_IDENTITY_TABLE = ensure_table(IDENTITY_HEADERS)

# Anthropic error types -> the HTTP status Anthropic documents for them, to classify in-band errors.
ERROR_TYPE_STATUS = {
    "invalid_request_error": 400, "authentication_error": 401, "permission_error": 403,
    "not_found_error": 404, "request_too_large": 413, "rate_limit_error": 429, "api_error": 500,
    "overloaded_error": 529,
}


ZERO_WIDTH_SPACE = "\u200b"
_USER_ID = re.compile(r"user_[a-fA-F0-9]{64}_account__session_"
                      r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True, slots=True)
class CloakSettings:
    """One credential's ``cloak`` block: ``auto`` (the default) cloaks unless the client's
    User-Agent starts with ``claude-cli``; ``always`` / ``never`` as named."""

    mode: str = "auto"
    strict: bool = False
    sensitive_words: tuple[str, ...] = ()


DEFAULT_CLOAK = CloakSettings()


def cloak_settings_for(cfg: Config, api_key: str, base_url: str) -> CloakSettings:
    """``resolveClaudeKeyCloakConfig`` (claude_executor.go:861-887): the first ``claude-api-key``
    entry with this key (case-insensitive) whose base URL does not contradict ours. An OAuth token
    matches no entry, so OAuth credentials always get the default."""
    if not api_key:
        return DEFAULT_CLOAK
    for entry in cfg.claude_api_key:
        entry_base = go_trim(entry.base_url)
        if go_trim(entry.api_key).lower() != api_key.lower():
            continue
        if base_url and entry_base and entry_base.lower() != base_url.lower():
            continue
        cloak = entry.cloak
        if cloak is None:
            return DEFAULT_CLOAK
        words = tuple(word.strip() for word in cloak.sensitive_words)
        return CloakSettings(cloak.mode or "auto", bool(cloak.strict_mode), words)
    return DEFAULT_CLOAK


def should_cloak(mode: str, user_agent: str) -> bool:
    """``shouldCloak`` (cloak_utils.go:32-43)."""
    lowered = mode.lower()
    if lowered == "always":
        return True
    if lowered == "never":
        return False
    return not user_agent.startswith("claude-cli")


def fake_user_id() -> str:
    """``generateFakeUserID``: the shape Claude Code's ``metadata.user_id`` has (64 hex digits and
    a version-4 UUID). It only has to look like Claude Code's, not be unguessable, so the
    Mersenne Twister serves, without two system calls per request."""
    session = f"{random.getrandbits(128) & ~(0xF000 << 64) & ~(0xC << 60) | (0x4000 << 64) | (0x8 << 60):032x}"
    return (f"user_{random.getrandbits(256):064x}_account__session_"
            f"{session[:8]}-{session[8:12]}-{session[12:16]}-{session[16:20]}-{session[20:]}")


@functools.lru_cache(maxsize=64)
def word_matcher(words: tuple[str, ...]) -> re.Pattern[str] | None:
    """``buildSensitiveWordMatcher``: words of two or more characters without a zero-width
    space, longest (in UTF-8 bytes) first so a longer word wins over its prefix. Kept per word
    list: a key's list is the same on every request it cloaks."""
    valid = [w.strip() for w in words]
    valid = [w for w in valid if len(w) >= 2 and ZERO_WIDTH_SPACE not in w]
    if not valid:
        return None
    valid.sort(key=lambda w: len(w.encode()), reverse=True)
    return re.compile("|".join(re.escape(w) for w in valid), re.IGNORECASE)


def _obfuscate_word(match: re.Match[str]) -> str:
    word = match.group(0)
    if ZERO_WIDTH_SPACE in word or len(word) < 2:
        return word
    return word[0] + ZERO_WIDTH_SPACE + word[1:]


def _obfuscate_blocks(blocks: list[Any], matcher: re.Pattern[str]) -> list[Any]:
    out = []
    for block in blocks:
        if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
            block = {**block, "text": matcher.sub(_obfuscate_word, block["text"])}
        out.append(block)
    return out


def obfuscate(body: dict[str, Any], matcher: re.Pattern[str]) -> None:
    """``obfuscateSensitiveWords`` (cloak_obfuscate.go): a zero-width space after the first
    character of every sensitive word in the system prompt and in message texts."""
    system = body.get("system")
    if isinstance(system, list):
        body["system"] = _obfuscate_blocks(system, matcher)
    elif isinstance(system, str):
        body["system"] = matcher.sub(_obfuscate_word, system)
    messages = body.get("messages")
    if not isinstance(messages, list):
        return
    changed = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            message = {**message, "content": matcher.sub(_obfuscate_word, content)}
        elif isinstance(content, list):
            message = {**message, "content": _obfuscate_blocks(content, matcher)}
        changed.append(message)
    body["messages"] = changed


def apply_cloaking(body: dict[str, Any], model: str, settings: CloakSettings, user_agent: str,
                   new_user_id: Callable[[], str] = fake_user_id) -> None:
    """``applyCloaking``: for a client that is not Claude Code (mode ``auto``), make the request
    look like Claude Code's: its system line first (the only one in strict mode, none for
    ``claude-3-5-haiku*``), a Claude Code shaped ``metadata.user_id`` unless a valid one is there,
    and the configured sensitive words broken up."""
    if not should_cloak(settings.mode, user_agent):
        return
    if not model.startswith("claude-3-5-haiku"):
        if settings.strict:
            body["system"] = [{"type": "text", "text": CLAUDE_CODE_LINE}]
        else:
            claude_code_system(body)
    metadata = body.get("metadata")
    if "metadata" not in body:
        body["metadata"] = {"user_id": new_user_id()}
    else:
        current = metadata.get("user_id") if isinstance(metadata, dict) else None
        if not (isinstance(current, str) and _USER_ID.fullmatch(current)):
            body["metadata"] = {**(metadata if isinstance(metadata, dict) else {}), "user_id": new_user_id()}
    matcher = word_matcher(settings.sensitive_words)
    if matcher is not None:
        obfuscate(body, matcher)


@functools.cache
def accept_encoding() -> str:
    """The legacy advertises gzip, deflate, br and zstd and decodes them itself. So do we, with
    brotli and zstd installed (project dependencies); without one, it is left out so an upstream
    never answers in an encoding we cannot read."""
    names = ["gzip", "deflate"]
    if compression_utils.HAS_BROTLI:
        names.append("br")
    if compression_utils.HAS_ZSTD:
        names.append("zstd")
    return ", ".join(names)


def extract_betas(body: dict[str, Any]) -> list[str]:
    """``extractAndRemoveBetas`` (claude_executor.go:509-526): a ``betas`` array (or any other
    value) leaves the body for the header; every item is read as text and trimmed, blanks skipped."""
    if "betas" not in body:
        return []
    value = body.pop("betas")
    items = value if isinstance(value, list) else [value]
    return [text for text in (text_of(item).strip() for item in items) if text]


def claude_code_system(body: dict[str, Any]) -> None:
    """``checkSystemInstructions`` (claude_executor.go:704-721), which the legacy count_tokens call
    applies to every model but ``claude-3-5-haiku*``: the Claude Code line goes first. An array
    whose first entry is that line stays; any other array keeps only its ``text`` entries after
    it; a missing system prompt becomes the line alone. A non-empty string follows the line as
    one text block: the legacy replaces it with the line, losing the prompt of every client that
    sends ``system="..."`` (compatibility row 19s), where its own comment says it prepends."""
    system = body.get("system")
    if isinstance(system, str) and system:
        body["system"] = [{"type": "text", "text": CLAUDE_CODE_LINE}, {"type": "text", "text": system}]
        return
    if isinstance(system, list):
        first = system[0] if system else None
        if isinstance(first, dict) and first.get("text") == CLAUDE_CODE_LINE:
            return
        kept = [part for part in system if isinstance(part, dict) and part.get("type") == "text"]
        body["system"] = [{"type": "text", "text": CLAUDE_CODE_LINE}, *kept]
        return
    body["system"] = [{"type": "text", "text": CLAUDE_CODE_LINE}]


def beta_header(client_value: str, extra: list[str]) -> str:
    value = client_value.strip()
    if value:
        betas = value if "oauth" in value else value + ",oauth-2025-04-20"
    else:
        betas = DEFAULT_BETAS
    seen = {b.strip() for b in betas.split(",")}
    for beta in extra:
        beta = beta.strip()
        if beta and beta not in seen:
            betas += "," + beta
            seen.add(beta)
    return betas


CloakResolver = Callable[[APIKeyCredential], CloakSettings]


class ClaudeAPIExecutor(Executor):
    name = "claude"
    # Set by whoever holds the config (``lambda c: cloak_settings_for(cfg, c.api_key, c.base_url)``)
    # so a key's ``cloak`` block applies; unset, every credential cloaks in the default ``auto`` mode.
    cloak_resolver: CloakResolver | None = None
    new_user_id: Callable[[], str] = staticmethod(fake_user_id)

    def before_payload(self, credential: APIKeyCredential, body: dict[str, Any], base_model: str,
                       client_headers: Mapping[str, str], stream: bool) -> bool:
        # claude_executor.go:106-117: the model, thinking, cloaking, then the payload rules.
        body["model"] = base_model
        self._cloak(credential, body, base_model, client_headers)
        return True

    def _cloak(self, credential: APIKeyCredential, body: dict[str, Any], base_model: str,
               client_headers: Mapping[str, str]) -> None:
        settings = self.cloak_resolver(credential) if self.cloak_resolver is not None else DEFAULT_CLOAK
        apply_cloaking(body, base_model, settings, _user_agent(client_headers), self.new_user_id)

    def prepare(self, credential: APIKeyCredential, request: UpstreamRequest) -> PreparedRequest:
        body: dict[str, Any] = dict(request.body)
        counting = request.action == "countTokens"
        if not request.shaped:
            body["model"] = request.base_model
        if counting:
            # The legacy CountTokens neither cloaks nor drops thinking; it only puts the Claude
            # Code system line first (claude_executor.go:399-401).
            if not request.base_model.startswith("claude-3-5-haiku"):
                claude_code_system(body)
        else:
            if not request.shaped:
                self._cloak(credential, body, request.base_model, request.client_headers)
            tool_choice = body.get("tool_choice")
            if isinstance(tool_choice, dict) and tool_choice.get("type") in ("any", "tool"):
                # Anthropic rejects extended thinking together with a forced tool.
                body.pop("thinking", None)
        betas = extract_betas(body)
        if is_oauth_token(credential.api_key):
            # After the payload rules and betas, count calls included (claude_executor.go:125-128,
            # 406-408): whatever carries such a token, a key entry or a credential file.
            body = prefix_tools(body)

        base = credential.base_url or DEFAULT_BASE_URL
        path = "/v1/messages/count_tokens" if counting else "/v1/messages"
        url = f"{base}{path}?beta=true"
        headers = HeaderSet()
        if credential.api_key and _is_anthropic(base):
            headers.set("x-api-key", credential.api_key)
        else:
            headers.set("Authorization", "Bearer " + credential.api_key)
        headers.set("Content-Type", "application/json")
        client = request.client_headers
        headers.set("Anthropic-Beta", beta_header(header_value(client, "Anthropic-Beta"), betas))
        headers.ensure_all(client, _IDENTITY_TABLE)
        headers.set("Connection", "keep-alive")
        headers.set("Accept-Encoding", accept_encoding())
        # Execute (non-stream client) sends application/json even when the body asks Claude for a
        # stream to fold (claude_executor.go:136, applyClaudeHeaders).
        headers.set("Accept", "text/event-stream" if request.wants_stream else "application/json")
        headers.apply_custom(credential.headers)
        return PreparedRequest("POST", url, headers.items(), json_bytes(body))

    def secret_of(self, credential: Any) -> str:
        """The key or token a call of this credential carries (the OAuth executor: its token)."""
        return str(credential.api_key)

    async def execute(self, credential: APIKeyCredential, request: UpstreamRequest) -> UpstreamResult:
        result = await super().execute(credential, request)
        if request.action == "countTokens" or not is_oauth_token(self.secret_of(credential)):
            return result
        return UpstreamResult(result.status, result.headers, strip_response(result.body))

    async def stream(self, credential: APIKeyCredential, request: UpstreamRequest) -> Any:
        opened = await super().stream(credential, request)
        return MappedStream(opened, strip_event) if is_oauth_token(self.secret_of(credential)) else opened

    reads_whole_answers = True

    def whole_answer_events(self, payload: Any) -> list[dict[str, Any]] | None:
        return claude_message_events(payload)

    @property
    def terminal_name(self) -> str:
        return "message_stop"

    def terminal(self, event: StreamEvent) -> bool:
        return _event_type(event) == "message_stop"

    def inband_error(self, event: StreamEvent) -> UpstreamError | None:
        if _event_type(event) != "error":
            return None
        error = event.payload.get("error") if isinstance(event.payload, dict) else None
        kind = error.get("type") if isinstance(error, dict) else None
        return inband_status_error(ERROR_TYPE_STATUS.get(kind) if isinstance(kind, str) else None, event.data)


@functools.lru_cache(maxsize=256)
def _is_anthropic(base_url: str) -> bool:
    """Anthropic's own host takes the key as ``x-api-key``; any other base URL as a bearer token."""
    parts = urlsplit(f"{base_url}/v1/messages")
    return parts.scheme.lower() == "https" and parts.netloc.lower() == "api.anthropic.com"


def _event_type(event: StreamEvent) -> str:
    if event.event:
        return event.event
    payload = event.payload
    kind = payload.get("type") if isinstance(payload, dict) else None
    return kind if isinstance(kind, str) else ""


def _user_agent(headers: Mapping[str, str]) -> str:
    return header_value(headers, "User-Agent")
