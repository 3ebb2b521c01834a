"""Runs the legacy CLIProxyAPI binary as a child of the gateway (flags.yaml ``legacy.binary``).

The child listens on the internal loopback port (``legacy.port``) and reads a derived copy of
config.yaml kept in step with the original (see :mod:`.derived_config`). It is restarted with
exponential backoff when it dies and stopped when the gateway stops.

Launchers such as the Quotio app stop "the server" with SIGTERM and then SIGKILL whatever listens on
the public port, which is the gateway. So the child must never outlive the gateway, even when the
gateway is SIGKILLed and runs no cleanup: on Linux it gets ``PR_SET_PDEATHSIG = SIGKILL`` and its own
process group (so a terminal's Ctrl-C reaches only the gateway, which then stops the child in order).
The death signal fires when the *thread* that forked the child ends, so the supervisor must run on
the gateway's main event-loop thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import structlog

from ..flags.schema import LegacySettings
from ..management.panel_asset import panel_file
from ..metrics import Metrics
from ..tasks import cancel_and_wait
from .derived_config import ConfigMirror
from .health import LegacyHealth

log = structlog.get_logger(__name__)

DERIVED_CONFIG_NAME = "legacy-config.yaml"
_FIRST_BACKOFF = 0.5
_PR_SET_PDEATHSIG = 1
# Longest child output line kept in one log event; the rest of an overlong line is dropped.
_MAX_LOG_LINE = 4096
_READ_CHUNK = 65536


class LegacyBinaryError(RuntimeError):
    """The legacy binary cannot be started: missing, not executable, or its port is taken."""


def _load_libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


# Loaded before any fork: the child may only call what is already resolved.
_LIBC = _load_libc()


def _child_setup(parent_pid: int) -> Callable[[], None]:
    """Runs in the child between fork and exec."""

    def setup() -> None:
        os.setpgid(0, 0)
        if _LIBC is not None:
            _LIBC.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
            # The gateway may have died between fork and prctl; then nobody would send the signal.
            if os.getppid() != parent_pid:
                os.kill(os.getpid(), signal.SIGKILL)

    return setup


def resolve_binary(binary: str) -> Path:
    """The absolute path of ``legacy.binary`` (a bare name is looked up on PATH)."""
    if os.sep not in binary:
        found = shutil.which(binary)
        if found is None:
            raise LegacyBinaryError(f"legacy.binary {binary!r} was not found on PATH")
        return Path(found)
    path = Path(binary).expanduser()
    if not path.exists():
        raise LegacyBinaryError(f"legacy.binary {path} does not exist")
    if not path.is_file():
        raise LegacyBinaryError(f"legacy.binary {path} is not a regular file")
    if not os.access(path, os.X_OK):
        raise LegacyBinaryError(f"legacy.binary {path} is not executable")
    return path.absolute()


def _check_port_free(port: int) -> None:
    # SO_REUSEADDR like the Go listener, so a TIME_WAIT leftover from a previous run does not count.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise LegacyBinaryError(
                f"legacy.port {port} on 127.0.0.1 is already in use ({exc.strerror}); "
                "another process would answer in place of the supervised binary") from exc


def child_environment(environ: Mapping[str, str], config_path: Path | None) -> dict[str, str]:
    """The child's environment: ours, with the control panel file pinned to the one the gateway
    serves. The child reads its derived config in the state dir, so on its own it would look for
    (and download) ``<state dir>/static/management.html`` and serve another copy than ours."""
    env = dict(environ)
    if not (env.get("MANAGEMENT_STATIC_PATH") or "").strip():
        panel = panel_file(config_path, environ)
        if panel is not None:
            env["MANAGEMENT_STATIC_PATH"] = str(panel)
    return env


class LegacySupervisor:
    def __init__(self, settings: LegacySettings, config_path: Path | None, state_dir: Path,
                 metrics: Metrics, *, health_interval: float = 2.0) -> None:
        if not settings.binary:
            raise ValueError("LegacySupervisor needs legacy.binary")
        self.settings = settings
        self.url = f"http://127.0.0.1:{settings.port}"
        self.health = LegacyHealth(self.url, settings.health_path, metrics, interval=health_interval)
        self.derived_path = state_dir / DERIVED_CONFIG_NAME
        self.restarts = 0
        self._metrics = metrics
        self._mirror = ConfigMirror(config_path, self.derived_path, settings.port)
        self._config_path = config_path
        self._binary: Path | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._spawned_at = 0.0
        self._spawn_lock = asyncio.Lock()
        self._drains: list[asyncio.Task[None]] = []
        self._watch_task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    def preflight(self) -> Path:
        """Check the binary can be run; raises :class:`LegacyBinaryError` naming the path."""
        assert self.settings.binary is not None
        self._binary = resolve_binary(self.settings.binary)
        return self._binary

    async def start(self) -> None:
        """Write the derived config, start the binary and begin health checks and supervision.

        Returns once the process is spawned; await ``health.wait_healthy()`` to wait for it to serve.
        """
        if self._watch_task is not None or self._stopping:
            raise RuntimeError("LegacySupervisor.start() may be called once")
        self.preflight()
        _check_port_free(self.settings.port)
        await asyncio.to_thread(self._mirror.write_initial)
        try:
            await self._spawn()
        except OSError as exc:
            raise LegacyBinaryError(f"legacy.binary {self._binary} could not be started: {exc}") from exc
        await self.health.start()
        await self._mirror.start()
        self._watch_task = asyncio.create_task(self._watch(), name="legacy-supervisor")

    async def _spawn(self) -> None:
        assert self._binary is not None
        argv = [str(self._binary), *self.settings.args, "-config", str(self.derived_path)]
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, preexec_fn=_child_setup(os.getpid()),
            env=child_environment(os.environ, self._config_path))
        self._proc = proc
        self._spawned_at = time.monotonic()
        assert proc.stdout is not None and proc.stderr is not None
        self._drains = [asyncio.create_task(self._drain(proc.stdout, "stdout", proc.pid)),
                        asyncio.create_task(self._drain(proc.stderr, "stderr", proc.pid))]
        # Arguments are not logged: launchers pass secrets such as -password on the command line.
        log.info("legacy.started", pid=proc.pid, binary=str(self._binary), port=self.settings.port,
                 extra_args=len(self.settings.args), config=str(self.derived_path))
        self.health.poke()

    async def _spawn_unless_stopping(self) -> bool:
        async with self._spawn_lock:
            if self._stopping:
                return False
            await self._spawn()
            return True

    async def _watch(self) -> None:
        delay = min(_FIRST_BACKOFF, self.settings.restart_backoff_max)
        backoff_max = self.settings.restart_backoff_max
        while not self._stopping:
            proc = self._proc
            if proc is not None:
                code = await proc.wait()
                await self._finish_drains(within=1.0)
                if self._stopping:
                    return
                # A child that ran for a long while earns a fresh, short backoff.
                if time.monotonic() - self._spawned_at >= backoff_max:
                    delay = min(_FIRST_BACKOFF, backoff_max)
                log.warning("legacy.exited", pid=proc.pid, code=code, restart_in=delay)
                self.health.poke()
            await asyncio.sleep(delay)
            delay = min(delay * 2, backoff_max)
            try:
                # Shielded so a stop() arriving mid-spawn cannot lose the handle of a started child.
                spawned = await asyncio.shield(self._spawn_unless_stopping())
            except OSError as exc:
                self._proc = None
                log.error("legacy.restart_failed", binary=str(self._binary), error=str(exc), retry_in=delay)
                continue
            if spawned:
                self.restarts += 1
                self._metrics.legacy_restarts.inc()
                log.info("legacy.restarted", restarts=self.restarts)

    async def _drain(self, stream: asyncio.StreamReader, name: str, pid: int) -> None:
        """Read the child's output so its pipe never fills and blocks it; lines go to debug logs."""
        pending = b""
        # True while dropping the tail of a line already logged in its first _MAX_LOG_LINE bytes.
        skipping = False
        while True:
            chunk = await stream.read(_READ_CHUNK)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if not skipping:
                    self._log_line(line, name, pid)
                skipping = False
            if len(pending) > _MAX_LOG_LINE:
                if not skipping:
                    self._log_line(pending, name, pid)
                    skipping = True
                pending = b""
        if pending and not skipping:
            self._log_line(pending, name, pid)

    @staticmethod
    def _log_line(line: bytes, name: str, pid: int) -> None:
        text = line[:_MAX_LOG_LINE].decode("utf-8", "replace").rstrip("\r")
        if text:
            log.debug("legacy.output", stream=name, pid=pid, line=text)

    async def _finish_drains(self, within: float) -> None:
        drains, self._drains = self._drains, []
        if not drains:
            return
        # A grandchild holding the pipe open would keep a drain alive forever.
        _done, pending = await asyncio.wait(drains, timeout=within)
        for task in pending:
            task.cancel()
        for task in drains:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def stop(self, grace: float = 3.0) -> None:
        """SIGTERM the child's process group, SIGKILL it after ``grace`` seconds, and reap it."""
        self._stopping = True
        await cancel_and_wait(self._watch_task)
        self._watch_task = None
        async with self._spawn_lock:
            proc = self._proc
        if proc is not None:
            await self._terminate(proc, grace)
        await self._finish_drains(within=1.0)
        await self.health.stop()
        await self._mirror.stop()

    async def _terminate(self, proc: asyncio.subprocess.Process, grace: float) -> None:
        if proc.returncode is None:
            self._signal_group(proc.pid, signal.SIGTERM)
            try:
                async with asyncio.timeout(grace):
                    await proc.wait()
                log.info("legacy.stopped", pid=proc.pid, code=proc.returncode)
            except TimeoutError:
                log.warning("legacy.kill_after_grace", pid=proc.pid, grace=grace)
                self._signal_group(proc.pid, signal.SIGKILL)
                await proc.wait()
        # Anything the binary started in its group goes too.
        self._signal_group(proc.pid, signal.SIGKILL)

    @staticmethod
    def _signal_group(pgid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
