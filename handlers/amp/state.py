"""Per-app Amp state: the upstream key resolver and the model mapper built from the live config."""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from quotio_gateway.config.models import AmpCode
from quotio_gateway.gostrings import go_trim

from .model_mapping import ModelMapper
from .secret import UpstreamSecret


@dataclass
class AmpState:
    secret: UpstreamSecret = field(default_factory=UpstreamSecret)
    session: aiohttp.ClientSession | None = None
    _mapper: ModelMapper | None = None
    _mapper_for: object = None

    def mapper(self, settings: AmpCode) -> ModelMapper:
        # Rebuilt when a reload brings a new mapping list (the config object is replaced whole).
        if self._mapper is None or self._mapper_for is not settings.model_mappings:
            self._mapper = ModelMapper.build(settings.model_mappings)
            self._mapper_for = settings.model_mappings
        return self._mapper

    def client_session(self) -> aiohttp.ClientSession:
        if self.session is None or self.session.closed:
            # No overall timeout: Go's default transport has none, and Amp answers stream long.
            self.session = aiohttp.ClientSession(
                auto_decompress=False, timeout=aiohttp.ClientTimeout(total=None, sock_connect=30))
        return self.session


AMP: web.AppKey[AmpState] = web.AppKey("amp_state", AmpState)


def install_amp(app: web.Application) -> AmpState:
    state = AmpState()
    app[AMP] = state

    async def close(_: web.Application) -> None:
        if state.session is not None:
            await state.session.close()

    app.on_cleanup.append(close)
    return state


def upstream_base(settings: AmpCode) -> str:
    """The trimmed ``ampcode.upstream-url``; "" means no Amp upstream (the legacy's nil proxy)."""
    return go_trim(settings.upstream_url)
