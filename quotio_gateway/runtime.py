"""Process-wide facts a handler may need: start time, paths, build info, launcher options."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Runtime:
    config_path: Path | None
    flags_path: Path | None
    state_dir: Path
    started_at: float = field(default_factory=time.time)
    started_monotonic: float = field(default_factory=time.monotonic)
    # Runtime-only management password from `-password` (accepted from loopback only).
    local_password: str | None = None

    @property
    def uptime(self) -> float:
        return time.monotonic() - self.started_monotonic
