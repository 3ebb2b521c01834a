"""What an OAuth-backed executor gets instead of an API key, and the executor base built on it.

An ``OAuthCredential`` is a read-only view of one auth-dir credential (or a virtual one, such as
a Gemini CLI project split out of a multi-project file): its id, provider, the fields the
upstream call needs (project id, account id, resource URL, ...) and a ``TokenSource`` that
yields a usable access token. The view holds no store handle, so executors never touch the
token store; the credential runtime (``handlers.credentials``) builds the views and decides
where tokens come from (the file's fields, a refresher, a Copilot token exchange, a
service-account JWT grant).

``OAuthExecutor`` keeps the ``Executor`` interface of ``base.py``: ``execute``/``stream`` first
ask the token source for a token (the only await before the HTTP call), attach it with
``OAuthCredential.with_token`` and then run the same pure ``prepare`` as the API-key executors.
A token source failure is a credential-scoped error (401), as the legacy executors answer a
missing or unobtainable token.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import structlog

from handlers.translation.model import Format

from .base import Executor, StreamEvent, UpstreamError, UpstreamRequest, UpstreamResult

if TYPE_CHECKING:
    from .http import UpstreamStream

log = structlog.get_logger("handlers.providers")

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class TokenSource(Protocol):
    """Where an access token comes from. ``access_token`` may refresh or exchange (I/O); it
    raises ``UpstreamError`` (credential scope) when no token can be had."""

    async def access_token(self) -> str: ...


@dataclass(frozen=True, slots=True)
class StaticToken:
    """A token known up front (tests, credentials that never refresh)."""

    value: str = field(repr=False)

    async def access_token(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True, eq=False)
class OAuthCredential:
    """One OAuth credential as an executor sees it. ``repr`` never shows a token or metadata."""

    id: str
    provider: str
    tokens: TokenSource = field(repr=False)
    label: str = ""
    email: str = ""
    project_id: str = ""
    account_id: str = ""
    resource_url: str = ""
    location: str = ""
    base_url: str = ""  # inference base URL override ("" = the provider's default)
    # Configured fallbacks after ``base_url`` (Antigravity's ``inference-fallback-urls``; Kiro's
    # ``amazonq-url``, its second endpoint).
    fallback_urls: tuple[str, ...] = ()
    proxy_url: str = ""
    prefix: str = ""
    priority: int = 0
    disabled: bool = False
    # Provider-specific extras an executor reads (antigravity ``user_agent``, kiro
    # ``profile_arn``/``auth_method``/``preferred_endpoint``, iflow ``api_key``). Read-only.
    metadata: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False)
    # Filled by ``with_token`` just before ``prepare``; never persisted, never printed.
    token: str = field(default="", repr=False)
    # Executors reuse ``HeaderSet.apply_custom``; OAuth files carry no custom headers.
    headers: tuple[tuple[str, str], ...] = ()

    def with_token(self, token: str) -> OAuthCredential:
        return replace(self, token=token)

    def meta_str(self, key: str) -> str:
        value = self.metadata.get(key)
        return value.strip() if isinstance(value, str) else ""


def missing_token_error(provider: str) -> UpstreamError:
    # The legacy executors answer an absent token with statusErr 401 "missing access token".
    return UpstreamError("credential", 401, b"missing access token", reason="unauthorized")


class OAuthExecutor(Executor):
    """Base of every OAuth-backed executor: resolve the token, then the shared send path."""

    upstream_format: ClassVar[Format]

    @property
    def format(self) -> Format:
        """The same as ``upstream_format``, under the name ``handlers.inference`` looks up."""
        return self.upstream_format

    async def authorize(self, credential: OAuthCredential) -> OAuthCredential:
        """The credential with a usable token attached (the only I/O before the call)."""
        try:
            token = await credential.tokens.access_token()
        except UpstreamError:
            raise
        except Exception as exc:
            # Never the exception text: token endpoints echo request bodies that hold secrets.
            log.warning("access token unavailable", credential=credential.id, provider=credential.provider,
                        error=type(exc).__name__)
            raise UpstreamError("credential", 401, b"failed to obtain access token",
                                reason="unauthorized") from exc
        if not token:
            raise missing_token_error(credential.provider)
        return credential.with_token(token)

    async def execute(self, credential: OAuthCredential, request: UpstreamRequest) -> UpstreamResult:  # type: ignore[override]
        self.precheck(credential, request)  # type: ignore[arg-type]
        authorized = await self.authorize(credential)
        return await super().execute(authorized, request)  # type: ignore[arg-type]

    async def stream(self, credential: OAuthCredential, request: UpstreamRequest) -> UpstreamStream:  # type: ignore[override]
        self.precheck(credential, request)  # type: ignore[arg-type]
        authorized = await self.authorize(credential)
        return await super().stream(authorized, request)  # type: ignore[arg-type]


class MappedStream:
    """An open upstream stream whose events pass through ``transform`` (same use as
    ``UpstreamStream``: ``async with``, iterate once). Used where the legacy rewrites stream lines
    of an otherwise standard upstream (Claude OAuth tool names)."""

    def __init__(self, inner: UpstreamStream, transform: Callable[[StreamEvent], StreamEvent]) -> None:
        self._inner = inner
        self._transform = transform
        self.status = inner.status
        self.headers = inner.headers

    async def __aenter__(self) -> MappedStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> AsyncIterator[StreamEvent | bytes]:
        return self._iterate()

    @property
    def closed(self) -> bool:
        return self._inner.closed

    async def aclose(self) -> None:
        await self._inner.aclose()

    def close(self) -> None:
        self._inner.close()

    async def _iterate(self) -> AsyncIterator[StreamEvent | bytes]:
        async for event in self._inner:
            yield self._transform(event) if isinstance(event, StreamEvent) else event
