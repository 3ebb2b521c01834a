"""The things being measured: the mock upstream, the anchors, and the gateway, all on loopback.

A `Lab` starts one mock upstream and, in front of it, whichever targets a case asks for. Every
target is reached at http://127.0.0.1:<port>, and CPU/RSS are read from its whole process tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from benchmarks.go_anchor import build_goproxy
from benchmarks.harness import Managed, free_port, process_tree

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "benchmarks" / "results" / ".cache"
GATEWAY_BIN = REPO / ".venv" / "bin" / "quotio-gateway"

# Targets in the order tables list them.
ANCHORS = ("direct", "nginx", "go", "naive")
ALL_TARGETS = (*ANCHORS, "gateway")


def anchors_dir() -> Path:
    """../shared/bench next to the work tree (CI lays a copy of shared/ beside its clone)."""
    return Path(os.environ.get("QUOTIO_BENCH_ANCHORS", REPO.parent / "shared" / "bench"))


@dataclass
class Target:
    name: str
    port: int
    proc: Managed

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        return process_tree(self.proc.pid)


class Unavailable(Exception):
    """A target that cannot run on this machine (tool missing, gateway not yet serving)."""


def gateway_version() -> str | None:
    """`quotio-gateway --version`, or None while the CLI does not run."""
    if not GATEWAY_BIN.exists():
        return None
    try:
        out = subprocess.run(
            [str(GATEWAY_BIN), "--version"], capture_output=True, text=True, timeout=30, check=True
        )
    except (subprocess.SubprocessError, OSError):
        return None
    return (out.stdout or out.stderr).strip() or None


def gateway_flags(upstream: str, state_dir: Path, routes: list[dict[str, object]]) -> dict[str, object]:
    """Flag table for a pass-through run: everything to the mock upstream playing legacy.

    The forwarder's connection pool is lifted from its default (256) so that 1,000 and 10,000
    concurrent streams each get an upstream connection instead of queueing: the anchors have
    unlimited pools too.
    """
    return {
        "version": 1,
        "default": "legacy",
        "legacy": {"url": upstream, "pool_size": 20000, "health_path": "/v1/models"},
        "server": {"state_dir": str(state_dir)},
        "routes": routes,
    }


class Lab:
    """One mock upstream plus targets in front of it; stop() ends everything it started."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.anchors = anchors_dir()
        self.procs: list[Managed] = []
        self.targets: dict[str, Target] = {}
        port = free_port()
        mock = self._spawn("mock", [sys.executable, str(self.anchors / "mock_upstream.py"), str(port)], port)
        self.upstream = f"http://127.0.0.1:{port}"
        self.targets["direct"] = Target("direct", port, mock)

    def _spawn(self, name: str, argv: list[str], port: int, env: dict[str, str] | None = None) -> Managed:
        proc = Managed(name, argv, port, self.workdir / f"{name}.log")
        proc.start(env=env, cwd=self.workdir)
        self.procs.append(proc)
        return proc

    def add(
        self, name: str, routes: list[dict[str, object]] | None = None, env: dict[str, str] | None = None
    ) -> Target:
        """Start target `name` (alias for gateway variants: 'gateway', 'gateway-shadow', ...;
        'spin-N' is the naive anchor plus N µs of CPU per request)."""
        port = free_port()
        kind = name.split("-", 1)[0]
        if kind == "naive":
            argv = [sys.executable, str(self.anchors / "naive_proxy.py"), str(port), self.upstream]
            proc = self._spawn(name, argv, port)
        elif kind == "spin":
            # "spin-100": the naive anchor with 100 µs of busy CPU per request (naive_spin.py).
            argv = [sys.executable, str(REPO / "benchmarks" / "naive_spin.py"), str(port), self.upstream,
                    name.split("-", 1)[1]]
            proc = self._spawn(name, argv, port, env={"QUOTIO_BENCH_ANCHORS": str(self.anchors)})
        elif kind == "go":
            try:
                binary = build_goproxy(self.anchors, CACHE)
            except (subprocess.SubprocessError, OSError) as exc:
                raise Unavailable(f"goproxy build failed: {exc}") from exc
            proc = self._spawn(name, [str(binary), str(port), self.upstream], port)
        elif kind == "nginx":
            proc = self._spawn(name, self._nginx_argv(port), port)
        elif kind == "gateway":
            proc = self._spawn(name, self._gateway_argv(name, port, routes or []), port, env=env)
        else:
            raise ValueError(f"unknown target {name!r}")
        target = Target(name, port, proc)
        self.targets[name] = target
        return target

    def _nginx_argv(self, port: int) -> list[str]:
        binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
        if binary is None:
            raise Unavailable("nginx is not installed (Debian package nginx)")
        upstream_port = self.upstream.rsplit(":", 1)[1]
        # The anchor config hard-codes its ports and pid path; rewrite those only.
        conf = (
            (self.anchors / "nginx.conf")
            .read_text()
            .replace("127.0.0.1:19001", f"127.0.0.1:{upstream_port}")
            .replace("127.0.0.1:19002", f"127.0.0.1:{port}")
            .replace("/tmp/bench-nginx.pid", str(self.workdir / "nginx.pid"))
            .replace("/tmp/bench-nginx.err", str(self.workdir / "nginx.err"))
        )
        path = self.workdir / "nginx.conf"
        path.write_text(conf)
        return [binary, "-p", str(self.workdir), "-c", str(path), "-g", "daemon off;"]

    def _gateway_argv(self, name: str, port: int, routes: list[dict[str, object]]) -> list[str]:
        if gateway_version() is None:
            raise Unavailable("`quotio-gateway --version` does not run yet")
        home = self.workdir / name
        state = home / "state"
        state.mkdir(parents=True, exist_ok=True)
        config = home / "config.yaml"
        flags = home / "flags.yaml"
        config.write_text(yaml.safe_dump({"host": "127.0.0.1", "port": port}))
        flags.write_text(yaml.safe_dump(gateway_flags(self.upstream, state, routes), sort_keys=False))
        return [str(GATEWAY_BIN), "serve", "--config", str(config), "--flags", str(flags)]

    def start_all(self, names: Iterable[str]) -> dict[str, str]:
        """Start each named target; returns name -> reason for those that could not start."""
        skipped: dict[str, str] = {}
        for name in names:
            if name in self.targets:
                continue
            try:
                self.add(name)
            except Unavailable as exc:
                skipped[name] = str(exc)
            except RuntimeError as exc:
                skipped[name] = str(exc)
        return skipped

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()
        self.targets.clear()
