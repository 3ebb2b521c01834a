"""App factory: wires config, flags, state, legacy, shadow and native handlers into one aiohttp app."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

import structlog
from aiohttp import web

from handlers.amp.state import install_amp
from handlers.credentials.wiring import install_credentials
from handlers.inference.runtime import install as install_inference
from handlers.logfiles.wiring import install_log_files
from handlers.logins.context import setup_login_context
from handlers.models.registry import registry_for
from handlers.wsrelay.wiring import install_wsrelay

from . import appkeys
from .admin import setup_admin
from .config.store import ConfigStore
from .dispatch import Dispatcher, on_response_prepare
from .flags.audit import FlagAudit
from .flags.loader import load_flags_file, packaged_flags_path
from .flags.matcher import CompiledTable
from .flags.schema import FlagTable, LegacySettings
from .flags.store import FlagStore
from .keepalive import setup_keepalive
from .legacy.forwarder import LegacyForwarder
from .legacy.health import LegacyHealth
from .legacy.supervisor import LegacySupervisor
from .management.auth import setup_management_guard
from .management.panel_asset import install_panel_updater
from .metrics import Metrics
from .native import NativeRegistry
from .runtime import Runtime
from .shadow.redact import remember_secrets, secrets_in
from .shadow.runner import ShadowRunner
from .shadow.store import SampleStore
from .state import StateDB

log = structlog.get_logger("quotio_gateway.app")

LEGACY_START_WAIT = 10.0


@dataclass
class GatewayOptions:
    config_path: Path | None = None
    flags_path: Path | None = None
    state_dir: Path | None = None
    local_password: str | None = None
    start_legacy: bool = True
    # The control panel checks GitHub from the serving process only (not from the shadow worker).
    panel_updates: bool = True


def default_state_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "quotio-gateway"


def resolve_flags_path(options: GatewayOptions, state_dir: Path | None = None) -> tuple[Path, bool]:
    """(flags file to load, whether it is the packaged default). See README for the search order."""
    if options.flags_path is not None:
        return options.flags_path, False
    packaged = packaged_flags_path().resolve()
    candidates = []
    if options.config_path is not None:
        candidates.append(options.config_path.parent / "flags.yaml")
    if state_dir is not None:
        candidates.append(state_dir / "flags.yaml")
    for candidate in candidates:
        if candidate.is_file() and candidate.resolve() != packaged:
            return candidate, False
    return packaged, True


def load_table(options: GatewayOptions) -> tuple[FlagTable, Path, bool]:
    path, packaged = resolve_flags_path(options)
    table = load_flags_file(path)
    if not packaged or options.state_dir is None:
        return table, path, packaged
    # The packaged table may point at a state dir holding the operator's saved table.
    path, packaged = resolve_flags_path(options, options.state_dir)
    return load_flags_file(path), path, packaged


def _state_dir(options: GatewayOptions, table: FlagTable) -> Path:
    if options.state_dir is not None:
        return options.state_dir
    return Path(table.server.state_dir).expanduser() if table.server.state_dir else default_state_dir()


def build_native_registry() -> NativeRegistry:
    from handlers.amp.control_plane import setup_amp_control_plane_routes
    from handlers.amp.routes import setup_amp_provider_routes
    from handlers.credentials.auth_files import setup_auth_file_routes
    from handlers.inference.routes import setup_inference_routes
    from handlers.logfiles.routes import setup_log_routes
    from handlers.logins.device_routes import setup_device_login_routes
    from handlers.logins.routes import setup_login_routes
    from handlers.models.routes import setup_model_routes
    from handlers.root import setup_root
    from handlers.usage.routes import setup_usage_routes
    from handlers.wsrelay.routes import setup_wsrelay_routes

    from .management.panel import setup_panel_route
    from .management.routes import setup_management

    registry = NativeRegistry()
    setup_root(registry)
    setup_management(registry)
    setup_panel_route(registry)
    setup_model_routes(registry)
    setup_inference_routes(registry)
    setup_amp_provider_routes(registry)
    setup_amp_control_plane_routes(registry)
    setup_login_routes(registry)
    setup_device_login_routes(registry)
    setup_usage_routes(registry)
    setup_log_routes(registry)
    setup_auth_file_routes(registry)
    setup_wsrelay_routes(registry)
    return registry


async def create_app(options: GatewayOptions, *, registry: NativeRegistry | None = None) -> web.Application:
    """Build the app; raises ConfigError/FlagsError with a readable message on bad files."""
    table, flags_path, packaged = load_table(options)
    state_dir = _state_dir(options, table)
    if packaged:
        path, packaged = resolve_flags_path(options, state_dir)
        if not packaged:
            table, flags_path = load_flags_file(path), path
    persist_path = state_dir / "flags.yaml" if packaged else flags_path

    metrics = Metrics()
    app = web.Application(client_max_size=table.server.max_body_bytes)
    app[appkeys.METRICS] = metrics
    app[appkeys.RUNTIME] = Runtime(config_path=options.config_path, flags_path=flags_path, state_dir=state_dir,
                                   local_password=options.local_password)
    # Without a config file the embedded defaults are served and edits stay in memory.
    config_store = ConfigStore(options.config_path)
    app[appkeys.CONFIG_STORE] = config_store
    app[appkeys.ANSWERED] = []
    config_store.on_reload = lambda ok: metrics.config_reloads.labels(
        file="config", result="success" if ok else "failure").inc()
    # Shadow samples blank the config's own keys, whatever their shape (shadow/redact.py).
    remember_secrets(secrets_in(config_store.current.model_dump(by_alias=True)))
    config_store.subscribe(lambda old, new: remember_secrets(secrets_in(new.model_dump(by_alias=True))))

    db = StateDB(state_dir / "state.sqlite3")
    await db.open()
    app[appkeys.STATE_DB] = db
    flag_store = FlagStore(table, path=None if packaged else flags_path, persist_path=persist_path,
                           audit=FlagAudit(db), metrics=metrics)
    app[appkeys.FLAG_STORE] = flag_store

    supervisor: LegacySupervisor | None = None
    legacy_url = table.legacy.url
    if table.legacy.binary and options.start_legacy:
        supervisor = LegacySupervisor(table.legacy, options.config_path, state_dir, metrics)
        legacy_url = supervisor.url
    app[appkeys.SUPERVISOR] = supervisor
    forwarder = LegacyForwarder(table.legacy, legacy_url, metrics)
    app[appkeys.LEGACY] = forwarder
    shadow = ShadowRunner(table.shadow, SampleStore(db, table.shadow.max_samples, table.shadow.sample_bytes),
                          metrics)
    app[appkeys.SHADOW] = shadow
    flag_store.subscribe(lambda old, new: shadow.update_settings(new.table.shadow))
    health_tasks: set[asyncio.Task[None]] = set()

    async def follow_legacy(settings: LegacySettings) -> None:
        if forwarder.health is not None:
            await forwarder.health.stop()
            forwarder.health = None
        if settings.url:
            forwarder.health = LegacyHealth(settings.url, settings.health_path, metrics)
            await forwarder.health.start()
        else:
            metrics.legacy_up.set(0)

    def legacy_changed(old: CompiledTable, new: CompiledTable) -> None:
        # A supervised legacy is the gateway's own child on its own port: its section applies at
        # start-up. A legacy reached by URL follows the table, as every other setting does.
        if supervisor is not None or old.table.legacy == new.table.legacy:
            return
        settings = new.table.legacy
        forwarder.reconfigure(settings, settings.url)
        log.info("legacy target changed", url=settings.url)
        task = asyncio.get_running_loop().create_task(follow_legacy(settings))
        health_tasks.add(task)
        task.add_done_callback(health_tasks.discard)

    flag_store.subscribe(legacy_changed)

    inference = install_inference(app, config_store)
    install_wsrelay(app, config_store, inference)
    install_amp(app)
    setup_login_context(app)
    setup_management_guard(app)
    install_panel_updater(app, config_store, active=options.panel_updates)
    setup_admin(app)
    app[appkeys.KEEPALIVE] = setup_keepalive(app, options.local_password)
    dispatcher = Dispatcher(app)
    for route in (registry or build_native_registry()).routes:
        app.router.add_route(route.method, route.path, dispatcher.wrap(route.handler))
    app.router.add_route("*", "/{tail:.*}", dispatcher.wrap(None))
    app.on_response_prepare.append(on_response_prepare)

    async def startup(app: web.Application) -> None:
        await config_store.start()
        # Built now so model `created` times are the start-up time, as in CLIProxyAPI.
        registry_for(config_store)
        await flag_store.start()
        if supervisor is not None:
            await supervisor.start()
            forwarder.health = supervisor.health
            # The port is bound only after this hook: launchers such as Quotio retry a refused
            # connection but count a 503 as a failure, so let the child come up first (bounded).
            if not await supervisor.health.wait_healthy(LEGACY_START_WAIT):
                log.warning("legacy not healthy yet; serving anyway", waited_seconds=LEGACY_START_WAIT)
        else:
            await follow_legacy(table.legacy)
            if not legacy_url:
                log.warning("no legacy server configured (flags: legacy.url or legacy.binary); "
                            "serving native routes only, legacy routes answer 503")

    async def cleanup(app: web.Application) -> None:
        await shadow.drain(2.0)
        await flag_store.stop()
        await config_store.stop()
        if supervisor is not None:
            await supervisor.stop(grace=0.4)
        elif forwarder.health is not None:
            await forwarder.health.stop()
        await forwarder.close()
        await db.close()

    app.on_startup.append(startup)
    app.on_cleanup.append(cleanup)
    # After the config store started: the token store lives where its auth-dir says.
    install_credentials(app, config_store, inference)
    install_log_files(app)
    return app
