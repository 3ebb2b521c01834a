"""Process-wide facts a handler may need: start time, paths, build info, launcher options."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path


class InFlight:
    """Counts requests being answered, so shutdown can wait for them (streams included)."""

    def __init__(self) -> None:
        self.count = 0
        self._idle: asyncio.Event | None = None

    def enter(self) -> None:
        self.count += 1

    def leave(self) -> None:
        self.count -= 1
        if self.count == 0 and self._idle is not None:
            self._idle.set()

    async def wait_idle(self, grace: float) -> bool:
        """True when every request finished within ``grace`` seconds."""
        if self.count == 0:
            return True
        self._idle = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self._idle.wait()
        return self.count == 0


@dataclass
class Runtime:
    config_path: Path | None
    flags_path: Path | None
    state_dir: Path
    started_monotonic: float = field(default_factory=time.monotonic)
    # Runtime-only management password from `-password` (accepted from loopback only).
    local_password: str | None = None
    inflight: InFlight = field(default_factory=InFlight)

    @property
    def uptime(self) -> float:
        return time.monotonic() - self.started_monotonic

