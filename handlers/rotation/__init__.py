"""Credential rotation: which credential serves a request, and what happens when it fails.

Pure logic, no I/O (see README.md); the inference pipeline (handlers/inference/pipeline.py) drives it.
"""

from __future__ import annotations

from .conductor import (
    CLIENT_GONE,
    RetrySettings,
    Served,
    closest_cooldown_wait,
    mark_client_gone,
    mark_result,
    run_with_failover,
)
from .errors import AuthNotFoundError, AuthUnavailableError, ModelCooldownError, RotationError
from .selector import Candidate, LegacySelector, Selector, available
from .state import Block, ModelState, QuotaState, RotationState, next_quota_cooldown

__all__ = [
    "CLIENT_GONE",
    "AuthNotFoundError",
    "AuthUnavailableError",
    "Block",
    "Candidate",
    "LegacySelector",
    "ModelCooldownError",
    "ModelState",
    "QuotaState",
    "RetrySettings",
    "RotationError",
    "RotationState",
    "Selector",
    "Served",
    "available",
    "closest_cooldown_wait",
    "mark_client_gone",
    "mark_result",
    "next_quota_cooldown",
    "run_with_failover",
]
