"""Values passed between the shadow pieces: what one leg produced, and what a comparison decided."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Outcome(StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"
    # Differences existed, but only where a rule says they are expected (ids, timestamps).
    IGNORED = "ignored"
    # The native leg or the shadow machinery failed; the client never notices.
    ERROR = "error"
    # Not compared at all: a write, over the byte cap, no free slot, legacy leg failed.
    SKIPPED = "skipped"


@dataclass
class Captured:
    """One leg's response as far as the shadow subsystem kept it."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    # The body went past the byte cap; ``body`` holds only its head.
    truncated: bool = False
    # Set when the leg produced no response (exception class name, never its message).
    error: str | None = None
    elapsed: float = 0.0

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None


@dataclass
class Comparison:
    outcome: Outcome
    # Readable, line oriented: "@ <json path>", "- <legacy>", "+ <native>".
    diff: str = ""
    # Concrete JSON paths whose differences were ignored by rule.
    ignored_paths: list[str] = field(default_factory=list)
    # Short machine-readable cause for SKIPPED/ERROR outcomes ("truncated", "native_failed", ...).
    reason: str | None = None
