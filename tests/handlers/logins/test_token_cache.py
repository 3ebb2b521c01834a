"""The per-credential token cache: reuse while fresh, rebuy near expiry or when the source changes."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from handlers.auth.credential import Credential, new_credential
from handlers.logins.endpoints import default_endpoints
from handlers.logins.token_cache import CredentialTokenCache


@dataclass(frozen=True)
class _Token:
    token: str


class _CountingCache(CredentialTokenCache[_Token]):
    """Buys ``<source>#<n>`` tokens that live 100 s, counting purchases."""

    expiry_margin = 10.0

    def __init__(self, session: aiohttp.ClientSession, now: list[float]) -> None:
        super().__init__(session, default_endpoints("qwen"), wall_clock=lambda: now[0])
        self.bought = 0

    def _source(self, credential: Credential) -> str:
        return str(credential.metadata.get("access_token", ""))

    async def _obtain(self, credential: Credential, source: str) -> tuple[_Token, float]:
        self.bought += 1
        return _Token(f"{source}#{self.bought}"), self.wall_clock() + 100.0


def _credential(access: str) -> Credential:
    return new_credential("qwen-a@b.c.json", {"type": "qwen", "access_token": access})


async def test_reuse_then_rebuy_near_expiry_and_on_a_new_source() -> None:
    now = [1000.0]
    async with aiohttp.ClientSession() as session:
        cache = _CountingCache(session, now)
        assert cache.current("qwen-a@b.c.json") == ""
        assert (await cache.get(_credential("g1"))).token == "g1#1"
        now[0] = 1089.0  # 11 s left: still more than the margin
        assert (await cache.get(_credential("g1"))).token == "g1#1"
        now[0] = 1090.0  # 10 s left: within the margin
        assert (await cache.get(_credential("g1"))).token == "g1#2"
        assert (await cache.get(_credential("g2"))).token == "g2#3"
        assert (await cache.get(_credential("g2"), force=True)).token == "g2#4"
        assert cache.current("qwen-a@b.c.json") == "g2#4"
        cache.invalidate("qwen-a@b.c.json")
        assert cache.current("qwen-a@b.c.json") == ""
        assert cache.bought == 4
