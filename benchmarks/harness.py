"""Process and measurement plumbing shared by the benchmark cases.

Everything here talks to loopback only. Processes are started in their own session so that a
stop reaches their children too (nginx's worker), and each one is stopped by its own pid.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

# 10,000 client streams need 10k sockets in the client, 20k in a proxy (both sides) and 10k in
# the upstream; leave room for listeners, logs and the SQLite state file.
STREAM_NOFILE = 65536

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listened on a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15.0, alive: Callable[[], bool] | None = None) -> None:
    """Block until 127.0.0.1:port accepts a connection, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise RuntimeError(f"process meant to listen on port {port} exited")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout:.0f}s")


def raise_nofile(wanted: int = STREAM_NOFILE) -> int:
    """Lift this process's open-file limit towards `wanted`; returns the soft limit now in force.

    Root may raise the hard limit too (up to fs.nr_open); anyone else gets the hard limit.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, max(hard, wanted)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _child_setup() -> None:
    # Runs in the child between fork and exec: children inherit the raised limit.
    raise_nofile(STREAM_NOFILE)


@dataclass
class Managed:
    """One started process, its log file, and the port it serves on."""

    name: str
    argv: list[str]
    port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 20.0) -> None:
        log = self.log_path.open("wb")
        self._log = log
        self.proc = subprocess.Popen(
            self.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            preexec_fn=_child_setup,
            start_new_session=True,
        )
        try:
            wait_for_port(self.port, timeout, self.alive)
        except (TimeoutError, RuntimeError) as exc:
            self.stop()
            raise RuntimeError(f"{self.name} did not start: {exc}; last log line: {self.last_log_line()}") from exc

    def stop(self, grace: float = 5.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            # The session id equals our child's pid, so this reaches only what we started.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(grace)
        if self._log is not None:
            self._log.close()
            self._log = None

    def last_log_line(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1][:300] if lines else ""


# ---- /proc accounting -------------------------------------------------------------------------


def parse_stat_cpu_ticks(stat_line: str) -> int:
    """utime + stime (clock ticks) from one /proc/<pid>/stat line.

    The command name (field 2) may hold spaces and parentheses, so fields are counted from the
    last ')'. After it, field 3 (state) is index 0, making utime (field 14) index 11.
    """
    rest = stat_line[stat_line.rindex(")") + 2 :].split()
    return int(rest[11]) + int(rest[12])


def parse_stat_ppid(stat_line: str) -> int:
    return int(stat_line[stat_line.rindex(")") + 2 :].split()[1])


def parse_status_rss_kb(status_text: str) -> int | None:
    for line in status_text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def parse_status_involuntary(status_text: str) -> int | None:
    for line in status_text.splitlines():
        if line.startswith("nonvoluntary_ctxt_switches:"):
            return int(line.split()[1])
    return None


def involuntary_switches(pids: Iterable[int]) -> int:
    """Times the given processes were taken off a core while runnable (all threads of each): on a
    host that also runs the upstream and the clients, mostly a process it woke taking its core."""
    total = 0
    for pid in pids:
        for tid in _thread_ids(pid):
            status = _read(f"/proc/{pid}/task/{tid}/status")
            if status:
                total += parse_status_involuntary(status) or 0
    return total


def _thread_ids(pid: int) -> list[str]:
    try:
        return os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []


def _read(path: str) -> str | None:
    try:
        with open(path) as fh:
            return fh.read()
    except OSError:
        return None


def process_tree(pid: int) -> list[int]:
    """pid and every live descendant (nginx's worker, a gateway's forked children)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _read(f"/proc/{entry}/stat")
        if stat:
            children.setdefault(parse_stat_ppid(stat), []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, []))
    return out


def cpu_seconds(pids: Iterable[int]) -> float:
    """CPU time (user + system) consumed so far by the given processes, all threads included."""
    ticks = 0
    for pid in pids:
        stat = _read(f"/proc/{pid}/stat")
        if stat:
            ticks += parse_stat_cpu_ticks(stat)
    return ticks / _CLK_TCK


def rss_kb(pids: Iterable[int]) -> int:
    total = 0
    for pid in pids:
        status = _read(f"/proc/{pid}/status")
        if status:
            total += parse_status_rss_kb(status) or 0
    return total


# ---- wrk --------------------------------------------------------------------------------------

_UNIT_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^([0-9.]+)(us|ms|s|m|h)$")


def parse_duration(text: str) -> float:
    """wrk's latency notation ('305.00us', '1.23ms', '2.00s') in seconds."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


@dataclass(frozen=True)
class WrkResult:
    requests: int
    rps: float
    percentiles: dict[int, float]  # percentile -> seconds (needs --latency)
    non_2xx: int
    socket_errors: int


_REQUESTS = re.compile(r"^\s*(\d+) requests in ", re.M)
_RPS = re.compile(r"^Requests/sec:\s+([0-9.]+)", re.M)
_PCT = re.compile(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", re.M)
_NON2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKERR = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


def parse_wrk(output: str) -> WrkResult:
    req = _REQUESTS.search(output)
    rps = _RPS.search(output)
    if not req or not rps:
        raise ValueError(f"unrecognised wrk output: {output[-300:]!r}")
    sock = _SOCKERR.search(output)
    non2xx = _NON2XX.search(output)
    return WrkResult(
        requests=int(req.group(1)),
        rps=float(rps.group(1)),
        percentiles={int(p): parse_duration(v) for p, v in _PCT.findall(output)},
        non_2xx=int(non2xx.group(1)) if non2xx else 0,
        socket_errors=sum(int(g) for g in sock.groups()) if sock else 0,
    )


def case_parser(doc: str | None, cases: Sequence[str]) -> argparse.ArgumentParser:
    """The options every benchmark script takes: ``--quick``, ``--only`` and ``--no-readme``."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer and shorter rounds")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help=f"run only these cases ({', '.join(cases)}); repeat or comma-separate")
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite benchmarks/README.md")
    return parser


def selected_cases(parser: argparse.ArgumentParser, args: argparse.Namespace,
                   cases: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(only, selected)``: the names given to ``--only``, and the cases to run in their order."""
    only = [n.strip() for item in args.only for n in item.split(",") if n.strip()]
    unknown = sorted(set(only) - set(cases))
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(cases)}")
    return only, [c for c in cases if not only or c in only]


def ensure_wrk() -> str:
    """The wrk binary, installed from Debian's packages on first use (as root) when it is missing:
    a fresh machine has none, and the anchors' figures were taken with it."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "wrk"]
        if subprocess.run(install, capture_output=True, timeout=600, env=env).returncode != 0:
            # A fresh machine may have no package lists yet.
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, timeout=600, env=env)
            subprocess.run(install, capture_output=True, timeout=600, env=env)
        found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is not installed and could not be installed (Debian package `wrk`)")
    return found


def run_wrk(
    url: str,
    *,
    connections: int,
    seconds: float,
    script: Path | None = None,
    headers: Sequence[str] = (),
    latency: bool = False,
) -> WrkResult:
    argv = [ensure_wrk(), "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "5s"]
    if latency:
        argv.append("--latency")
    if script is not None:
        argv += ["-s", str(script)]
    for header in headers:
        argv += ["-H", header]
    argv.append(url)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30, check=True)
    return parse_wrk(out.stdout)


# ---- small numeric helpers --------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of an unsorted sequence."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil without floats drifting
    return ordered[min(len(ordered), int(rank)) - 1]


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


@contextlib.contextmanager
def stopping(processes: list[Managed]) -> Iterator[list[Managed]]:
    """Stop every process in the list on the way out, newest first, whatever happened."""
    try:
        yield processes
    finally:
        for proc in reversed(processes):
            with contextlib.suppress(Exception):
                proc.stop()
