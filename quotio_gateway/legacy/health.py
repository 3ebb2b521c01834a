"""Health checking of the legacy server, supervised or reached by ``legacy.url``.

Healthy means the server answered the health path with any status below 500: a 401 or 404 from a
management path still proves the process is up and serving, while 5xx, timeouts and refused
connections do not. The probe uses a fresh connection each time so a half-dead server cannot hide
behind a pooled keep-alive socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiohttp
import structlog

from ..metrics import Metrics
from ..tasks import cancel_and_wait

log = structlog.get_logger(__name__)

# While the server is down it is probed at least this often, so a restart is noticed quickly.
_DOWN_INTERVAL = 0.5


class LegacyHealth:
    def __init__(self, url: str, health_path: str, metrics: Metrics, interval: float = 2.0, *,
                 timeout: float | None = None) -> None:
        self.url = url.rstrip("/")
        self.target = self.url + (health_path if health_path.startswith("/") else "/" + health_path)
        self.interval = interval
        self.timeout = timeout if timeout is not None else min(3.0, max(interval, 0.5))
        self.healthy = False
        self.last_error: str | None = None
        self.last_ok: float | None = None
        self._metrics = metrics
        self._up = asyncio.Event()
        self._wake = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        metrics.legacy_up.set(0)

    async def start(self) -> None:
        if self._task is not None:
            return
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            connector=aiohttp.TCPConnector(limit=1, force_close=True),
            # Proxy settings from the environment must not reroute a loopback probe.
            trust_env=False,
        )
        self._task = asyncio.create_task(self._run(), name="legacy-health")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        # Nothing watches it any more, so it must not keep claiming to be up.
        self._set(False, "health checking stopped", quiet=True)

    def poke(self) -> None:
        """Probe now instead of at the next interval (after a restart, say)."""
        self._wake.set()

    async def wait_healthy(self, timeout: float) -> bool:  # noqa: ASYNC109 - the interface callers use
        """True as soon as a probe succeeds, False if none does within ``timeout`` seconds."""
        if self.healthy:
            return True
        self.poke()
        try:
            async with asyncio.timeout(timeout):
                await self._up.wait()
        except TimeoutError:
            return False
        return True

    async def check(self) -> bool:
        """Probe once and record the outcome."""
        if self._session is None:
            raise RuntimeError("LegacyHealth.start() has not been called")
        try:
            async with self._session.get(self.target, allow_redirects=False) as response:
                await response.read()
                status = response.status
        except TimeoutError:
            self._set(False, f"timeout after {self.timeout:g}s")
            return False
        except aiohttp.ClientError as exc:
            self._set(False, f"{type(exc).__name__}: {exc}")
            return False
        if status >= 500:
            self._set(False, f"HTTP {status}")
            return False
        self._set(True, None)
        return True

    async def _run(self) -> None:
        while True:
            await self.check()
            delay = self.interval if self.healthy else min(self.interval, _DOWN_INTERVAL)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    def _set(self, healthy: bool, error: str | None, *, quiet: bool = False) -> None:
        was = self.healthy
        self.healthy = healthy
        self._metrics.legacy_up.set(1 if healthy else 0)
        if healthy:
            self.last_ok = time.time()
            self.last_error = None
            self._up.set()
        else:
            self.last_error = error
            self._up.clear()
        if quiet or was == healthy:
            return
        if healthy:
            log.info("legacy.health.up", url=self.target)
        else:
            log.warning("legacy.health.down", url=self.target, error=error)
