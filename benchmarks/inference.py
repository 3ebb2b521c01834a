"""Native inference benchmarks: OpenAI chat clients answered through Claude translation.

    python benchmarks/inference.py [--quick] [--only NAME[,NAME]] [--no-readme] [--no-litellm] [--rounds N]

Cases: cpu (CPU µs per non-stream request at c=8, with p50 at c=1), ttfb (first byte at 100
streams of 20 chunks x 50 ms), chunk (µs per stream chunk translated, in process). Targets:

* naive: the anchors' naive aiohttp proxy in front of their OpenAI-style mock (pass-through);
* native: ``quotio-gateway serve`` with every route native and one ``claude-api-key`` whose
  base URL is ``fake_claude.py``: OpenAI request -> Claude request -> Claude SSE -> OpenAI answer;
* litellm: LiteLLM's proxy (its own venv, see litellm_anchor.py) on the same fake Claude;
* in the ttfb case also gateway, the gateway's own pass-through lane (every route legacy, the
  mock playing legacy), and spin-100, the naive proxy plus 100 µs of busy CPU per request
  (naive_spin.py): the calibration that says what one µs of per-request CPU costs in first-byte
  time at 100 streams on this machine; and native-2p, two native gateways sharing the port
  (SO_REUSEPORT, each with its own state): what a second event loop would give.

Each process is started here on a free loopback port and stopped by pid at the end of its case.
Writes benchmarks/results/inference.json and, after a run of every case, the block between the
``inference-results`` markers of benchmarks/README.md.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import chunk_cost, latency, litellm_anchor
from benchmarks.harness import (
    Managed,
    case_parser,
    cpu_seconds,
    free_port,
    involuntary_switches,
    median,
    percentile,
    process_tree,
    raise_nofile,
    ratio,
    selected_cases,
)
from benchmarks.run import gateway_features
from benchmarks.streams import first_byte_spread, run_streams
from benchmarks.targets import CACHE, GATEWAY_BIN, REPO, Lab, Target, anchors_dir, gateway_version
from quotio_gateway.server import REUSE_PORT_SWITCH

RESULTS = REPO / "benchmarks" / "results"
README = REPO / "benchmarks" / "README.md"
README_BEGIN = "<!-- inference-results:begin (written by benchmarks/inference.py) -->"
README_END = "<!-- inference-results:end -->"
CASES = ("cpu", "ttfb", "chunk")
CLIENT_KEY = "sk-bench"  # the bearer post.lua and streams.py send
UPSTREAM_MODEL = "claude-bench"
CLIENT_MODEL = "bench-model"
STREAM_CHUNKS, STREAM_DELAY_MS, STREAMS = 20, 50, 100
STREAM_ROUNDS = 15
SPIN_US = 100  # the calibration target's busy CPU per request
SPIN = f"spin-{SPIN_US}"
PAIR = "native-2p"
ORDER = ("naive", SPIN, "gateway", "native", PAIR, "litellm")
CPU_LIMIT = 3.0  # native CPU per request ÷ naive pass-through (issue 4)
TTFB_LIMIT_MS = 2.0  # native TTFB p50 − naive TTFB p50 (issue 4)


def native_config(port: int, upstream_base: str) -> dict[str, Any]:
    """CLIProxyAPI config.yaml: one Claude API key on the fake upstream, ``bench-model`` its alias."""
    return {
        "host": "127.0.0.1",
        "port": port,
        "api-keys": [CLIENT_KEY],
        "request-retry": 0,
        "claude-api-key": [{"api-key": "sk-upstream-bench", "base-url": upstream_base,
                            "models": [{"name": UPSTREAM_MODEL, "alias": CLIENT_MODEL}]}],
    }


def native_flags(state_dir: Path) -> dict[str, Any]:
    # Port 9 has no listener: anything the table sent to legacy would fail loudly, not pass.
    return {
        "version": 1,
        "default": "native",
        "legacy": {"url": "http://127.0.0.1:9", "connect_timeout": 1},
        "server": {"state_dir": str(state_dir)},
        "routes": [],
    }


def upstream_base(fake_port: int, stream_shape: bool) -> str:
    """Base URL choosing the fake's answer (see fake_claude.py): full text or the token stream."""
    root = f"http://127.0.0.1:{fake_port}"
    return f"{root}/toks/{STREAM_CHUNKS}/{STREAM_DELAY_MS}" if stream_shape else root


class InferenceLab:
    """The anchors' lab (mock + naive proxy) plus the fake Claude, the native gateway and LiteLLM."""

    def __init__(self, workdir: Path, *, stream_shape: bool, litellm: Path | None) -> None:
        self.workdir = workdir
        self.lab = Lab(workdir)
        self.targets: dict[str, Target] = {}
        self.skipped: dict[str, str] = {}
        self._procs: list[Managed] = []
        try:
            self.targets["naive"] = self.lab.add("naive")
            if stream_shape:
                self.targets[SPIN] = self.lab.add(SPIN)
                self.targets["gateway"] = self.lab.add("gateway")
            fake_port = free_port()
            self._spawn("fake-claude", [sys.executable, str(REPO / "benchmarks" / "fake_claude.py"), str(fake_port)],
                        fake_port)
            base = upstream_base(fake_port, stream_shape)
            self.targets["native"] = self._native(base)
            if stream_shape:
                self.targets[PAIR] = self._native_pair(base)
            if litellm is not None:
                self._litellm(litellm, base)
        except BaseException:
            self.stop()
            raise

    def _spawn(self, name: str, argv: list[str], port: int, *, env: dict[str, str] | None = None,
               timeout: float = 20.0) -> Managed:
        proc = Managed(name, argv, port, self.workdir / f"{name}.log")
        proc.start(env=env, cwd=self.workdir, timeout=timeout)
        self._procs.append(proc)
        return proc

    def _native_argv(self, name: str, port: int, base: str) -> list[str]:
        if gateway_version() is None:
            raise RuntimeError("`quotio-gateway --version` does not run")
        home = self.workdir / name
        home.mkdir()
        (home / "config.yaml").write_text(yaml.safe_dump(native_config(port, base), sort_keys=False))
        (home / "flags.yaml").write_text(yaml.safe_dump(native_flags(home / "state"), sort_keys=False))
        return [str(GATEWAY_BIN), "serve", "--config", str(home / "config.yaml"), "--flags", str(home / "flags.yaml")]

    def _native(self, base: str) -> Target:
        port = free_port()
        return Target("native", port, self._spawn("native", self._native_argv("native", port, base), port))

    def _native_pair(self, base: str) -> Target:
        """Two native gateways sharing one port (SO_REUSEPORT, server.py): the kernel spreads the
        streams over two event loops. Each keeps its own state, so this is a measurement of what
        more than one process gives, not a configuration the gateway supports."""
        port = free_port()
        env = {REUSE_PORT_SWITCH: "1"}
        first = self._spawn(PAIR, self._native_argv(PAIR, port, base), port, env=env)
        second = self._spawn(f"{PAIR}-b", self._native_argv(f"{PAIR}-b", port, base), port, env=env)
        # The port already answers (the first process), so wait for the second's own log line.
        deadline = time.monotonic() + 20
        while b"quotio-gateway listening" not in second.log_path.read_bytes():
            if not second.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{PAIR}: the second process did not start: {second.last_log_line()}")
            time.sleep(0.05)
        return PairTarget(PAIR, port, first, second)

    def _litellm(self, launcher: Path, base: str) -> None:
        port = free_port()
        config = self.workdir / "litellm.yaml"
        config.write_text(yaml.safe_dump(litellm_anchor.litellm_config(base), sort_keys=False))
        try:
            proc = self._spawn("litellm", litellm_anchor.litellm_argv(launcher, config, port), port,
                               env=litellm_anchor.litellm_env(), timeout=litellm_anchor.START_TIMEOUT)
        except RuntimeError as exc:
            self.skipped["litellm"] = str(exc)
            return
        self.targets["litellm"] = Target("litellm", port, proc)

    def ordered(self) -> list[Target]:
        return [self.targets[n] for n in ORDER if n in self.targets]

    def stop(self) -> None:
        for proc in reversed(self._procs):
            proc.stop()
        self._procs.clear()
        self.lab.stop()


@dataclass
class PairTarget(Target):
    second: Managed | None = None

    def pids(self) -> list[int]:
        return super().pids() + (process_tree(self.second.pid) if self.second is not None else [])


# ---- answers are checked before anything is timed -------------------------------------------------


def check_answer(target: Target) -> dict[str, Any]:
    """One non-stream request: the target must answer an OpenAI chat completion with the 800 chars."""
    body = json.dumps({"model": CLIENT_MODEL, "messages": [{"role": "user", "content": "hi"}],
                       "stream": False}).encode()
    req = urllib.request.Request(target.base + "/v1/chat/completions", data=body, method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {CLIENT_KEY}"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        answer = json.loads(resp.read())
        route = resp.headers.get("X-Quotio-Route")
    message = answer["choices"][0]["message"]
    content = message.get("content") or ""
    if answer.get("object") != "chat.completion" or content != "x" * 800:
        raise RuntimeError(f"{target.name} answered an unexpected body: {json.dumps(answer)[:200]}")
    out: dict[str, Any] = {"object": answer["object"], "content_chars": len(content),
                           "finish_reason": answer["choices"][0].get("finish_reason")}
    if route is not None:
        out["route"] = route
    return out


# ---- cases --------------------------------------------------------------------------------------


@dataclass
class Run:
    quick: bool
    workroot: Path
    litellm: Path | None

    def __post_init__(self) -> None:
        self.plan = latency.QUICK if self.quick else latency.FULL
        # Single runs of 7 rounds put the same build anywhere from 9 ms ahead of the naive proxy to
        # 4 ms behind it (docs/performance.md): 15 rounds halve the spread of the median.
        self.stream_rounds = 2 if self.quick else STREAM_ROUNDS
        self.skipped: dict[str, str] = {}

    def lab(self, case: str, stream_shape: bool) -> InferenceLab:
        lab = InferenceLab(Path(tempfile.mkdtemp(prefix=f"{case}-", dir=self.workroot)),
                           stream_shape=stream_shape, litellm=self.litellm)
        for name, reason in lab.skipped.items():
            self.skipped.setdefault(name, reason)
        return lab

    def case_cpu(self) -> dict[str, Any]:
        lab = self.lab("cpu", stream_shape=False)
        try:
            answers: dict[str, dict[str, Any]] = {}
            for target in lab.ordered():
                try:
                    answers[target.name] = check_answer(target)
                except (OSError, RuntimeError, ValueError, KeyError, IndexError) as exc:
                    if target.name != "litellm":
                        raise
                    # An anchor that answers wrongly is left out with the reason, not measured.
                    self.skipped["litellm"] = f"wrong answer before timing: {type(exc).__name__}: {exc}"
            targets = [t for t in lab.ordered() if t.name in answers]
            post = anchors_dir() / "post.lua"
            figures = latency.measure_latency(targets, self.plan, script=post)
            out: dict[str, Any] = latency.measure_cpu(targets, self.plan, post, figures).summary()
            for name, answer in answers.items():
                out[name]["answer"] = answer
            out["native"]["features"] = gateway_features(lab.targets["native"])
            return out
        finally:
            lab.stop()

    def case_ttfb(self) -> dict[str, Any]:
        lab = self.lab("ttfb", stream_shape=True)
        try:
            return ttfb_rounds(lab.ordered(), self.stream_rounds)
        finally:
            lab.stop()

    def case_chunk(self) -> dict[str, Any]:
        return chunk_cost.measure(chunk_cost.QUICK if self.quick else chunk_cost.FULL)


def ttfb_rounds(targets: Sequence[Target], rounds: int) -> dict[str, Any]:
    """100 streams at once per target per round, rounds interleaved; median of the round p50s.

    Also the CPU each target's process tree spent per stream, from /proc around each round. A
    stream counts as complete when it carried at least the 20 content chunks and ``[DONE]``.
    """
    p50s: dict[str, list[float]] = {t.name: [] for t in targets}
    p99s: dict[str, list[float]] = {t.name: [] for t in targets}
    cpu: dict[str, list[float]] = {t.name: [] for t in targets}
    preempted: dict[str, list[float]] = {t.name: [] for t in targets}
    spreads: dict[str, list[float]] = {t.name: [] for t in targets}
    frames: dict[str, set[int]] = {t.name: set() for t in targets}
    problems: dict[str, list[str]] = {t.name: [] for t in targets}
    for target in targets:  # warm-up: pools, lazy imports
        asyncio.run(run_streams(target.base, 10, chunks=STREAM_CHUNKS, delay_ms=0, deadline=60))
    for _ in range(rounds):
        for target in targets:
            pids = target.pids()
            before, switched = cpu_seconds(pids), involuntary_switches(pids)
            tr = asyncio.run(run_streams(target.base, STREAMS, chunks=STREAM_CHUNKS, delay_ms=STREAM_DELAY_MS,
                                         deadline=120))
            cpu[target.name].append((cpu_seconds(pids) - before) / STREAMS * 1e6)
            preempted[target.name].append((involuntary_switches(pids) - switched) / STREAMS)
            problems[target.name] += tr.errors
            frames[target.name].update(tr.chunks)
            if len(tr.chunks) != STREAMS or any(n < STREAM_CHUNKS + 1 for n in tr.chunks):
                problems[target.name].append(f"stream(s) with fewer than {STREAM_CHUNKS} chunks + [DONE]")
            if tr.ttfb:
                p50s[target.name].append(percentile(tr.ttfb, 50))
                p99s[target.name].append(percentile(tr.ttfb, 99))
            spread = first_byte_spread(tr.first_at)
            if spread is not None:
                spreads[target.name].append(spread)
            time.sleep(0.2)
    return {
        name: {
            "ttfb_p50_ms": round(median(p50s[name]) * 1000, 2) if p50s[name] else None,
            "ttfb_p99_ms": round(median(p99s[name]) * 1000, 2) if p99s[name] else None,
            "p50_rounds_ms": [round(v * 1000, 2) for v in p50s[name]],
            "cpu_us_per_stream": round(median(cpu[name]), 0) if cpu[name] else None,
            "preempted_per_stream": round(median(preempted[name]), 2) if preempted[name] else None,
            "first_byte_spread_ms": round(median(spreads[name]) * 1000, 2) if spreads[name] else None,
            "data_lines_per_stream": sorted(frames[name]),
            "errors": len(problems[name]),
            "first_error": problems[name][0] if problems[name] else None,
        }
        for name in p50s
    }


# ---- verdicts and markdown ----------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    name: str
    value: float | None
    limit: float | None
    unit: str
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "not measured"
        if self.limit is None:
            return "reported"
        return "pass" if self.value <= self.limit else "FAIL"


def _get(results: dict[str, Any], case: str, target: str, key: str) -> Any:
    return (results.get(case) or {}).get(target, {}).get(key)


def verdicts(results: dict[str, Any]) -> list[Verdict]:
    cpu_native = _get(results, "cpu", "native", "cpu_us_per_req")
    cpu_naive = _get(results, "cpu", "naive", "cpu_us_per_req")
    cpu_litellm = _get(results, "cpu", "litellm", "cpu_us_per_req")
    ttfb_native = _get(results, "ttfb", "native", "ttfb_p50_ms")
    ttfb_naive = _get(results, "ttfb", "naive", "ttfb_p50_ms")
    ttfb_spin = _get(results, "ttfb", SPIN, "ttfb_p50_ms")
    ttfb_lane = _get(results, "ttfb", "gateway", "ttfb_p50_ms")
    ttfb_pair = _get(results, "ttfb", PAIR, "ttfb_p50_ms")
    chunk = results.get("chunk") or {}
    native_errors = sum(int(_get(results, c, "native", "errors") or 0) for c in ("cpu", "ttfb"))
    return [
        Verdict("CPU per non-stream request, native OpenAI→Claude→OpenAI / naive pass-through",
                ratio(cpu_native, cpu_naive), CPU_LIMIT, "x"),
        Verdict(f"TTFB p50 at {STREAMS} streams, native translated minus naive pass-through",
                _minus(ttfb_native, ttfb_naive), TTFB_LIMIT_MS, "ms", note=_paired_note(results, "native")),
        Verdict(f"calibration: TTFB p50 at {STREAMS} streams, naive + {SPIN_US} µs CPU per request minus naive",
                _minus(ttfb_spin, ttfb_naive), None, "ms",
                note=f"{_minus(ttfb_spin, ttfb_naive) / SPIN_US * 1000:.0f} µs of TTFB per µs of CPU per request"
                if _minus(ttfb_spin, ttfb_naive) else ""),
        Verdict(f"TTFB p50 at {STREAMS} streams, native translated minus the gateway's own pass-through lane",
                _minus(ttfb_native, ttfb_lane), None, "ms"),
        Verdict(f"calibration: TTFB p50 at {STREAMS} streams, two native processes sharing the port minus naive",
                _minus(ttfb_pair, ttfb_naive), None, "ms",
                note="; ".join(filter(None, (
                    "each process with its own state: what a second event loop gives, not a supported set-up",
                    _paired_note(results, PAIR))))),
        Verdict("stream translation per chunk, Claude event → OpenAI chunk (in process)",
                chunk.get("translate_us_per_chunk"), None, "µs",
                note=f"with SSE parsing and JSON decoding: {chunk.get('upstream_to_client_us_per_chunk')} µs"
                if chunk else ""),
        Verdict("CPU per non-stream request, LiteLLM proxy / naive pass-through",
                ratio(cpu_litellm, cpu_naive), None, "x",
                note=f"LiteLLM / native {ratio(cpu_litellm, cpu_native):.1f} x"
                if cpu_litellm and cpu_native else ""),
        Verdict("failed requests or incomplete streams, native", float(native_errors)
                if "cpu" in results or "ttfb" in results else None, 0.0, ""),
    ]


def paired_difference(rounds: Sequence[float] | None, anchor: Sequence[float] | None) -> dict[str, float] | None:
    """Round-by-round differences of two targets' p50s (ms), each round's pair measured minutes
    apart at most: their median, mean and the mean's standard error. None without two whole
    series of at least two rounds."""
    if not rounds or not anchor or len(rounds) != len(anchor) or len(rounds) < 2:
        return None
    diffs = [a - b for a, b in zip(rounds, anchor, strict=True)]
    return {"median": round(statistics.median(diffs), 2), "mean": round(statistics.fmean(diffs), 2),
            "stderr": round(statistics.stdev(diffs) / math.sqrt(len(diffs)), 2), "rounds": len(diffs)}


def _paired_note(results: dict[str, Any], target: str) -> str:
    paired = paired_difference(_get(results, "ttfb", target, "p50_rounds_ms"),
                               _get(results, "ttfb", "naive", "p50_rounds_ms"))
    if paired is None:
        return ""
    return (f"paired rounds: median {paired['median']:+.2f} ms, mean {paired['mean']:+.2f} ± "
            f"{paired['stderr']:.2f} ms over {paired['rounds']} rounds")


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|",
            *("| " + " | ".join(row) + " |" for row in rows)]


def render_markdown(doc: dict[str, Any]) -> str:
    meta, results = doc["meta"], doc["results"]
    out = [f"Measured {meta['finished_utc']} on {meta['cpus']} CPUs (load average at start {meta['loadavg']}), "
           f"gateway {meta['gateway_version'] or 'not running'}, LiteLLM {meta['litellm_version'] or 'not run'}, by:",
           "", "    " + meta["command"], ""]
    rows = []
    for v in verdicts(results):
        digits = 0 if v.unit == "" else 2  # a count of failures has no decimals
        bound = "–" if v.limit is None else f"≤ {_fmt(v.limit, digits)} {v.unit}".rstrip()
        value = f"{_fmt(v.value, 0 if v.unit == '' else 3 if v.unit == 'x' else 2)} {v.unit}".rstrip()
        rows.append([v.name, value, bound, v.verdict + (f" ({v.note})" if v.note else "")])
    out += _table(["target (issue 4)", "measured", "limit", "verdict"], rows)
    measured = {**(results.get("cpu") or {}), **(results.get("ttfb") or {})}
    names = [n for n in ORDER if n in measured]
    naive_cpu = _get(results, "cpu", "naive", "cpu_us_per_req")
    naive_ttfb = _get(results, "ttfb", "naive", "ttfb_p50_ms")
    naive_stream_cpu = _get(results, "ttfb", "naive", "cpu_us_per_stream")
    table = []
    for name in names:
        cpu = _get(results, "cpu", name, "cpu_us_per_req")
        ttfb = _get(results, "ttfb", name, "ttfb_p50_ms")
        stream_cpu = _get(results, "ttfb", name, "cpu_us_per_stream")
        table.append([name, _fmt(_get(results, "cpu", name, "p50_ms"), 3), _fmt(cpu, 0), _fmt(ratio(cpu, naive_cpu)),
                      _fmt(_get(results, "cpu", name, "rps_c8"), 0), _fmt(ttfb),
                      _fmt(_minus(ttfb, naive_ttfb)), _fmt(_get(results, "ttfb", name, "ttfb_p99_ms")),
                      _fmt(stream_cpu, 0), _fmt(ratio(stream_cpu, naive_stream_cpu)),
                      _fmt(_get(results, "ttfb", name, "preempted_per_stream")),
                      _fmt(_get(results, "ttfb", name, "first_byte_spread_ms"))])
    if table:
        out += ["", *_table(["target", "p50 c=1 ms", "CPU µs/req c=8", "÷ naive", "req/s c=8",
                             f"TTFB p50 ms, {STREAMS} streams", "− naive ms", "TTFB p99 ms", "CPU µs/stream",
                             "÷ naive", "preempted/stream", "first bytes p10–p90 ms"], table)]
    features = _get(results, "cpu", "native", "features")
    if features:
        out += ["", f"Native gateway as measured: every route native, X-Request-Id on answers "
                f"{'yes' if features['x_request_id'] else 'NO'}, request metrics on /metrics "
                f"{'yes' if features['metrics'] else 'NO'}, {features['access_log_lines']:,} JSON access-log lines "
                "written during the cpu case."]
    chunk = results.get("chunk")
    if chunk:
        out += ["", f"Per chunk ({chunk['chunks']:,} deltas × {chunk['repeats']} repeats, median): translator "
                f"{chunk['translate_us_per_chunk']} µs; with SSE parsing, JSON decoding and the executor's event "
                f"checks {chunk['upstream_to_client_us_per_chunk']} µs."]
    if doc.get("skipped"):
        out += ["", "Not measured in this run: " + "; ".join(f"{k}: {v}" for k, v in sorted(doc["skipped"].items()))]
    return "\n".join(out) + "\n"


def splice_readme(readme: str, block: str) -> str:
    start = readme.index(README_BEGIN) + len(README_BEGIN)
    end = readme.index(README_END, start)
    return readme[:start] + "\n" + block + readme[end:]


# ---- entry point --------------------------------------------------------------------------------


def prepare_litellm(wanted: bool, skipped: dict[str, str]) -> tuple[Path | None, str | None]:
    if not wanted:
        skipped["litellm"] = "--no-litellm"
        return None, None
    try:
        launcher = litellm_anchor.find_litellm(CACHE)
    except litellm_anchor.LiteLLMUnavailable as exc:
        skipped["litellm"] = str(exc)
        return None, None
    return launcher, litellm_anchor.litellm_version(launcher)


def main(argv: list[str] | None = None) -> int:
    parser = case_parser(__doc__, CASES)
    parser.add_argument("--no-litellm", action="store_true", help="leave LiteLLM out")
    parser.add_argument("--rounds", type=int, default=None, metavar="N",
                        help=f"TTFB rounds (default {STREAM_ROUNDS}, 2 with --quick)")
    args = parser.parse_args(argv)
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be at least 1")
    only, selected = selected_cases(parser, args, CASES)
    command = "python benchmarks/inference.py" + (" --quick" if args.quick else "") + (
        f" --only {','.join(only)}" if only else "") + (" --no-litellm" if args.no_litellm else "") + (
        f" --rounds {args.rounds}" if args.rounds is not None else "")

    raise_nofile()
    started = time.time()
    loadavg = " ".join(f"{x:.2f}" for x in os.getloadavg())
    skipped: dict[str, str] = {}
    needs_litellm = any(c in selected for c in ("cpu", "ttfb"))
    launcher, litellm_version = prepare_litellm(not args.no_litellm and needs_litellm, skipped) if needs_litellm \
        else (None, None)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="quotio-inference-") as tmp:
        run = Run(args.quick, Path(tmp), launcher)
        if args.rounds is not None:
            run.stream_rounds = args.rounds
        for case in selected:
            t0 = time.monotonic()
            print(f"[inference] {case} ...", file=sys.stderr, flush=True)
            method: Callable[[], dict[str, Any]] = getattr(run, f"case_{case}")
            try:
                results[case] = method()
            except (OSError, RuntimeError, ValueError, KeyError) as exc:
                # One broken case must not lose the other cases' figures.
                results[case] = {}
                skipped[case] = f"{type(exc).__name__}: {exc}"
            print(f"[inference] {case} done in {time.monotonic() - t0:.0f}s", file=sys.stderr, flush=True)
        skipped.update({k: v for k, v in run.skipped.items() if k not in skipped})
    doc = {
        "meta": {
            "command": command, "quick": args.quick, "cases": selected,
            "started_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
            "finished_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "cpus": os.cpu_count(), "loadavg": loadavg, "gateway_version": gateway_version(),
            "litellm_version": litellm_version if "litellm" not in skipped else None,
            "python": sys.version.split()[0],
        },
        "results": results,
        "skipped": skipped,
        "checks": [{"name": v.name, "value": v.value, "limit": v.limit, "unit": v.unit, "verdict": v.verdict,
                    "note": v.note} for v in verdicts(results)],
    }
    markdown = render_markdown(doc)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "inference.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(markdown)
    if not args.no_readme and not only and README.exists() and README_BEGIN in README.read_text():
        README.write_text(splice_readme(README.read_text(), markdown))
        print(f"[inference] results written into {README.relative_to(REPO)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
