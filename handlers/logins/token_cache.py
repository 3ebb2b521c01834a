"""Short-lived provider tokens kept in memory per credential file (Copilot API tokens, Vertex tokens).

Both are bought with something the credential file holds (a GitHub token, a service-account key),
live minutes to an hour and are never written back. A cached token serves until it is within
``expiry_margin`` seconds of its end or the credential it came from changed; one purchase at a time
runs per file so a burst of requests does not buy the same token many times.
"""

from __future__ import annotations

import abc
import asyncio
import time
from collections.abc import Callable
from typing import ClassVar, Generic, Protocol, TypeVar

import aiohttp

from handlers.auth.credential import Credential
from handlers.logins.endpoints import ProviderEndpoints


class _BearerToken(Protocol):
    @property
    def token(self) -> str: ...


T = TypeVar("T", bound=_BearerToken)


class CredentialTokenCache(abc.ABC, Generic[T]):
    """Tokens keyed by credential file name; subclasses say how a token is bought."""

    expiry_margin: ClassVar[float]

    def __init__(self, session: aiohttp.ClientSession, endpoints: ProviderEndpoints, *,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.session = session
        self.endpoints = endpoints
        self.wall_clock = wall_clock
        # file name -> (what the token was bought with, the token, its end in Unix seconds)
        self._tokens: dict[str, tuple[str, T, float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @abc.abstractmethod
    def _source(self, credential: Credential) -> str:
        """What in the credential the token depends on; a change makes the cached token stale."""

    @abc.abstractmethod
    async def _obtain(self, credential: Credential, source: str) -> tuple[T, float]:
        """Buy a fresh token; returns it with its end in Unix seconds."""

    def _fresh(self, credential: Credential) -> T | None:
        cached = self._tokens.get(credential.file_name)
        if cached is None or cached[0] != self._source(credential):
            return None
        if cached[2] - self.wall_clock() <= self.expiry_margin:
            return None
        return cached[1]

    async def get(self, credential: Credential, *, force: bool = False) -> T:
        """A token with more than ``expiry_margin`` left, buying one only when needed."""
        if not force and (token := self._fresh(credential)) is not None:
            return token
        lock = self._locks.setdefault(credential.file_name, asyncio.Lock())
        async with lock:
            if not force and (token := self._fresh(credential)) is not None:
                return token
            source = self._source(credential)
            token, expires = await self._obtain(credential, source)
            self._tokens[credential.file_name] = (source, token, expires)
            return token

    def invalidate(self, file_name: str) -> None:
        self._tokens.pop(file_name, None)

    def current(self, file_name: str) -> str:
        """The token last bought for this credential ("" when none): what executors send."""
        cached = self._tokens.get(file_name)
        return cached[1].token if cached else ""
