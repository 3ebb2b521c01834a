"""Token sources for auth-dir credentials: where an executor's access token comes from.

Each source reads the credential's *current* copy from the runtime at call time, so a reload (the
Quotio app rewrote the file) or a refresh is picked up without rebuilding views, and nothing but
an in-memory lookup happens unless a token is due:

* ``FileToken``: the token field of the file (``access_token``; Gemini's nested
  ``token.access_token``; iFlow's ``api_key``; Kiro's ``access_token``/``accessToken``). When the
  token is expired (Gemini CLI: within 10 s, Antigravity: within 50 min, as the legacy executors
  refresh on use) and the runtime has a refresher, the runtime refreshes once (single-flight per
  file) and the new token is used.
* ``ExchangedToken``: GitHub Copilot and Vertex service accounts. The file's secret is swapped
  for a short-lived token by a cache object (``CopilotTokenCache`` / ``VertexTokenMinter`` from
  ``handlers.logins``) with ``async get(credential, force=False)``, which keeps the token until
  shortly before it expires and exchanges one at a time per file.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog

from handlers.auth.credential import Credential, with_default_proxy
from handlers.logins.device_http import TokenEndpointError
from handlers.providers.base import UpstreamError

log = structlog.get_logger("handlers.credentials")

# How early a token counts as due when used (legacy executors' on-use refresh skews).
ON_USE_SKEW = {"gemini-cli": 10.0, "antigravity": 3000.0}


class CurrentCredential(Protocol):
    """What a token source needs from the runtime."""

    def file_credential(self, file_name: str) -> Credential | None: ...

    def default_proxy(self) -> str: ...

    async def refresh_file(self, file_name: str) -> Credential | None: ...

    def now(self) -> datetime: ...


class TokenCache(Protocol):
    async def get(self, credential: Credential, *, force: bool = False) -> Any: ...


def file_token(credential: Credential) -> str:
    """The token an executor sends for this file ("" when the file has none)."""
    meta = credential.metadata
    keys: tuple[str, ...] = ("access_token",)
    if credential.provider == "iflow":
        keys = ("api_key",)
    elif credential.provider == "kiro":
        keys = ("access_token", "accessToken")
    for key in keys:
        value = meta.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    if credential.provider == "gemini-cli":
        nested = meta.get("token")
        value = nested.get("access_token") if isinstance(nested, dict) else None
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def is_due(credential: Credential, now: datetime) -> bool:
    if credential.expiry is None:
        return False
    skew = timedelta(seconds=ON_USE_SKEW.get(credential.provider, 0.0))
    return credential.expiry - skew <= now


def gone_error() -> UpstreamError:
    # The file was removed between selection and use: the credential cannot serve any more.
    return UpstreamError("credential", 401, b"credential no longer available", reason="unauthorized")


@dataclass(frozen=True, slots=True)
class FileToken:
    runtime: CurrentCredential = field(repr=False)
    file_name: str

    async def access_token(self) -> str:
        credential = self.runtime.file_credential(self.file_name)
        if credential is None:
            raise gone_error()
        if is_due(credential, self.runtime.now()):
            refreshed = await self.runtime.refresh_file(self.file_name)
            if refreshed is not None:
                credential = refreshed
        return file_token(credential)


@dataclass(frozen=True, slots=True)
class ExchangedToken:
    runtime: CurrentCredential = field(repr=False)
    file_name: str
    cache: Callable[[], TokenCache | None] = field(repr=False)
    failure: bytes = b"failed to obtain access token"
    # The Vertex executor answers a failed token mint as statusErr{500, "internal server error"}
    # (gemini_vertex_executor.go:350-355): a one-minute cooldown, not a 401's thirty, and no
    # refresh-and-retry. The cause is logged, not sent.
    internal_error: bool = False

    async def access_token(self) -> str:
        credential = self.runtime.file_credential(self.file_name)
        if credential is None:
            raise gone_error()
        cache = self.cache()
        if cache is None:
            raise self._failed("token exchange not configured")
        try:
            token = await cache.get(with_default_proxy(credential, self.runtime.default_proxy()))
        except UpstreamError:
            raise
        except TokenEndpointError as exc:
            # Its message names the host, the status and the OAuth error code, never a body.
            raise self._failed(str(exc)) from exc
        except Exception as exc:
            # Only the error class: other exchange failures can echo request data.
            raise self._failed(type(exc).__name__) from exc
        value = getattr(token, "token", token)
        return value if isinstance(value, str) else ""

    def _failed(self, detail: str) -> UpstreamError:
        if self.internal_error:
            log.warning("token exchange failed", file=self.file_name, error=f"{self.failure.decode()}: {detail}")
            return UpstreamError("transient", 500, b"internal server error", reason="transient")
        return UpstreamError("credential", 401, self.failure + f": {detail}".encode(), reason="unauthorized")


Refresher = Callable[[Credential], Awaitable[Credential]]


def utc_now() -> datetime:
    return datetime.now(UTC)
