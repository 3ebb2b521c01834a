"""Typed keys for everything the app factory puts into ``app`` state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from .config.store import ConfigStore
    from .flags.store import FlagStore
    from .legacy.forwarder import LegacyForwarder
    from .legacy.supervisor import LegacySupervisor
    from .metrics import Metrics
    from .runtime import Runtime
    from .shadow.runner import ShadowRunner
    from .state import StateDB

METRICS = web.AppKey["Metrics"]("metrics")
STATE_DB = web.AppKey["StateDB"]("state_db")
FLAG_STORE = web.AppKey["FlagStore"]("flag_store")
CONFIG_STORE = web.AppKey["ConfigStore"]("config_store")
LEGACY = web.AppKey["LegacyForwarder"]("legacy_forwarder")
SUPERVISOR = web.AppKey["LegacySupervisor | None"]("legacy_supervisor")
SHADOW = web.AppKey["ShadowRunner"]("shadow_runner")
RUNTIME = web.AppKey["Runtime"]("runtime")
