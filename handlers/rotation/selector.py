"""Choosing one credential among the candidates for a model.

``Selector`` is the one interface the conductor talks to, so a smarter policy (escalating
cooldowns, quota groups, tiers) can replace ``LegacySelector`` without touching the retry loop.

``LegacySelector`` reproduces CLIProxyAPI v6.7.15 (``sdk/cliproxy/auth/selector.go``; reference
B6): drop blocked candidates, keep the highest ``priority`` bucket, sort it by credential id, then
round-robin with a cursor per ``"mixed:" + model`` or, for fill-first, always take the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from quotio_gateway.config.models import FILL_FIRST, ROUND_ROBIN

from .errors import AuthNotFoundError, AuthUnavailableError, ModelCooldownError
from .state import RotationState


class Candidate(Protocol):
    """What selection needs to know about a credential. Higher ``priority`` wins (default 0)."""

    @property
    def id(self) -> str: ...

    @property
    def priority(self) -> int: ...


C = TypeVar("C", bound=Candidate)

# The key the legacy mixed picker passes as provider; it never appears in an error body.
MIXED = "mixed"
_CURSOR_WRAP = 2_147_483_640


class Selector(Protocol):
    def pick(self, model: str, candidates: Sequence[C], state: RotationState, now: float) -> C:
        """One of ``candidates`` (all untried in this pass), or raise a ``RotationError``."""
        ...


def available(model: str, candidates: Sequence[C], state: RotationState, now: float,
              provider: str = MIXED) -> list[C]:
    """``getAvailableAuths``: the unblocked candidates of the best priority, sorted by id.

    Raises ``ModelCooldownError`` when every candidate is cooling after a 429 (reset = the
    earliest recovery), ``AuthUnavailableError`` when all are blocked otherwise, and
    ``AuthNotFoundError`` when there is nothing to choose from.
    """
    if not candidates:
        raise AuthNotFoundError()
    buckets: dict[int, list[C]] = {}
    cooling = 0
    earliest: float | None = None
    for candidate in candidates:
        block = state.block(candidate.id, model, now)
        if not block.blocked:
            buckets.setdefault(candidate.priority, []).append(candidate)
        elif block.reason == "cooldown":
            cooling += 1
            if block.until is not None and (earliest is None or block.until < earliest):
                earliest = block.until
    if not buckets:
        if cooling == len(candidates) and earliest is not None:
            raise ModelCooldownError(model, earliest - now, "" if provider == MIXED else provider)
        raise AuthUnavailableError()
    best = buckets[max(buckets)]
    # Go compares ids as bytes; Python's code point order is the same for UTF-8 text.
    return sorted(best, key=lambda c: c.id)


class LegacySelector:
    """``RoundRobinSelector`` / ``FillFirstSelector`` behind one object.

    ``strategy`` is ``routing.effective_strategy``; a reload changes it with ``set_strategy``.
    """

    def __init__(self, strategy: str = ROUND_ROBIN) -> None:
        self.strategy = strategy
        self._cursors: dict[str, int] = {}

    def set_strategy(self, strategy: str) -> None:
        """A different strategy starts with fresh cursors: the legacy installs a new selector
        whenever the normalised strategy changes on reload (service.go:536-545)."""
        if strategy != self.strategy:
            self.strategy = strategy
            self._cursors.clear()

    def pick(self, model: str, candidates: Sequence[C], state: RotationState, now: float) -> C:
        choices = available(model, candidates, state, now)
        if self.strategy == FILL_FIRST:
            return choices[0]
        key = f"{MIXED}:{model}"
        index = self._cursors.get(key, 0)
        if index >= _CURSOR_WRAP:
            index = 0
        self._cursors[key] = index + 1
        return choices[index % len(choices)]
