"""Typed keys for everything the app factory puts into ``app`` state."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:  # the AppKey type arguments below are forward references to these
    from .config.store import ConfigStore  # noqa: F401
    from .flags.store import FlagStore  # noqa: F401
    from .keepalive import KeepAlive  # noqa: F401
    from .legacy.forwarder import LegacyForwarder  # noqa: F401
    from .legacy.supervisor import LegacySupervisor  # noqa: F401
    from .metrics import Metrics  # noqa: F401
    from .runtime import Runtime  # noqa: F401
    from .shadow.runner import ShadowRunner  # noqa: F401
    from .state import StateDB  # noqa: F401

METRICS = web.AppKey["Metrics"]("metrics")
STATE_DB = web.AppKey["StateDB"]("state_db")
FLAG_STORE = web.AppKey["FlagStore"]("flag_store")
CONFIG_STORE = web.AppKey["ConfigStore"]("config_store")
LEGACY = web.AppKey["LegacyForwarder"]("legacy_forwarder")
SUPERVISOR = web.AppKey["LegacySupervisor | None"]("legacy_supervisor")
SHADOW = web.AppKey["ShadowRunner"]("shadow_runner")
RUNTIME = web.AppKey["Runtime"]("runtime")
KEEPALIVE = web.AppKey["KeepAlive | None"]("keepalive")
# Called after each answer is on the wire, with the request, the response and the side that
# answered ("native" or "legacy"): the per-request log files hook in here.
AnswerHook = Callable[[web.Request, web.StreamResponse, str], None]
ANSWERED = web.AppKey["list[AnswerHook]"]("answered_hooks")
