"""benchmarks/inference.py: configs the gateway accepts, answer checks, verdicts and the README block."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from benchmarks import inference
from benchmarks.harness import Managed
from benchmarks.inference import (
    README_BEGIN,
    README_END,
    check_answer,
    native_config,
    native_flags,
    paired_difference,
    render_markdown,
    splice_readme,
    upstream_base,
    verdicts,
)
from benchmarks.targets import Target
from quotio_gateway.config.loader import parse_config
from quotio_gateway.flags.loader import validate_flags

RESULTS: dict[str, Any] = {
    "cpu": {
        "naive": {"cpu_us_per_req": 200.0, "p50_ms": 0.4, "rps_c8": 3000, "errors": 0},
        "native": {"cpu_us_per_req": 500.0, "p50_ms": 0.9, "rps_c8": 1200, "errors": 0,
                   "features": {"x_request_id": True, "metrics": True, "access_log_lines": 1234}},
        "litellm": {"cpu_us_per_req": 14000.0, "p50_ms": 9.0, "rps_c8": 60, "errors": 0},
    },
    "ttfb": {
        "naive": {"ttfb_p50_ms": 40.0, "cpu_us_per_stream": 2000, "errors": 0},
        "spin-100": {"ttfb_p50_ms": 48.0, "cpu_us_per_stream": 2100, "errors": 0},
        "gateway": {"ttfb_p50_ms": 30.0, "cpu_us_per_stream": 1000, "errors": 0},
        "native": {"ttfb_p50_ms": 43.5, "ttfb_p99_ms": 61.25, "cpu_us_per_stream": 4000, "errors": 1,
                   "preempted_per_stream": 3.25, "first_byte_spread_ms": 38.5},
        "native-2p": {"ttfb_p50_ms": 39.0, "cpu_us_per_stream": 4200, "errors": 0},
        "litellm": {"ttfb_p50_ms": 900.0, "cpu_us_per_stream": 50000, "errors": 0},
    },
    "chunk": {"chunks": 100, "repeats": 3, "translate_us_per_chunk": 5.5, "upstream_to_client_us_per_chunk": 12.0},
}
META = {"finished_utc": "2026-11-25 17:00 UTC", "cpus": 2, "loadavg": "1.00 1.00 1.00",
        "gateway_version": "quotio-gateway 0.1.0", "litellm_version": "1.2.3",
        "command": "python benchmarks/inference.py"}


def test_native_config_loads_as_one_claude_key_aliased_to_the_bench_model(tmp_path: Path) -> None:
    text = yaml.safe_dump(native_config(4321, "http://127.0.0.1:9999/toks/20/50"))
    cfg = parse_config(text, tmp_path / "config.yaml", persist=False)
    assert (cfg.host, cfg.port, cfg.api_keys) == ("127.0.0.1", 4321, ["sk-bench"])
    (key,) = cfg.claude_api_key
    assert key.base_url == "http://127.0.0.1:9999/toks/20/50"
    assert [(m.name, m.alias) for m in key.models] == [("claude-bench", "bench-model")]


def test_native_flags_send_everything_native(tmp_path: Path) -> None:
    table = validate_flags(native_flags(tmp_path / "state"), "bench")
    assert table.default.value == "native"
    assert table.routes == []
    assert table.server.state_dir == str(tmp_path / "state")


def test_upstream_base_picks_the_fake_answer_by_path() -> None:
    assert upstream_base(5000, stream_shape=False) == "http://127.0.0.1:5000"
    assert upstream_base(5000, stream_shape=True) == "http://127.0.0.1:5000/toks/20/50"


def test_verdicts_are_ratios_and_differences_against_the_naive_proxy() -> None:
    cpu, ttfb, spin, lane, pair, chunk, litellm, errors = verdicts(RESULTS)
    assert "native OpenAI→Claude→OpenAI" in cpu.name and "LiteLLM" in litellm.name
    assert (cpu.value, cpu.limit, cpu.verdict) == (2.5, 3.0, "pass")
    assert (ttfb.value, ttfb.verdict) == (3.5, "FAIL")
    # 8 ms of first-byte time for 100 µs of CPU per request: 80 µs per µs.
    assert (spin.value, spin.verdict, spin.note) == (8.0, "reported", "80 µs of TTFB per µs of CPU per request")
    assert (lane.value, lane.verdict) == (13.5, "reported")
    # Two processes on one port, against the naive proxy: a calibration, never a verdict.
    assert (pair.value, pair.verdict) == (-1.0, "reported")
    assert "two native processes sharing the port" in pair.name
    assert (chunk.value, chunk.verdict) == (5.5, "reported")
    assert chunk.note == "with SSE parsing and JSON decoding: 12.0 µs"
    assert (litellm.value, litellm.verdict, litellm.note) == (70.0, "reported", "LiteLLM / native 28.0 x")
    assert (errors.value, errors.verdict) == (1.0, "FAIL")


def test_verdicts_without_figures_say_not_measured() -> None:
    assert {v.verdict for v in verdicts({})} == {"not measured"}
    cpu, *_, errors = verdicts({"cpu": {"naive": {"cpu_us_per_req": 100.0}}})
    assert cpu.verdict == "not measured"
    assert errors.verdict == "pass"


def test_markdown_shows_checks_targets_and_skip_reasons() -> None:
    text = render_markdown({"meta": META, "results": RESULTS, "skipped": {"litellm": "pip install failed: x"}})
    assert "gateway quotio-gateway 0.1.0, LiteLLM 1.2.3" in text
    assert ("| CPU per non-stream request, native OpenAI→Claude→OpenAI / naive pass-through "
            "| 2.500 x | ≤ 3.00 x | pass |") in text
    assert ("| TTFB p50 at 100 streams, native translated minus naive pass-through "
            "| 3.50 ms | ≤ 2.00 ms | FAIL |") in text
    assert "| native | 0.900 | 500 | 2.50 | 1,200 | 43.50 | 3.50 | 61.25 | 4,000 | 2.00 | 3.25 | 38.50 |" in text
    assert "| preempted/stream | first bytes p10–p90 ms |" in text
    assert "| spin-100 | – | – | – | – | 48.00 | 8.00 | – | 2,100 | 1.05 |" in text
    assert "| native-2p | – | – | – | – | 39.00 | -1.00 | – | 4,200 | 2.10 |" in text
    assert ("| calibration: TTFB p50 at 100 streams, naive + 100 µs CPU per request minus naive | 8.00 ms | – "
            "| reported (80 µs of TTFB per µs of CPU per request) |") in text
    assert "| litellm | 9.000 | 14,000 | 70.00 | 60 | 900.00 | 860.00 | – | 50,000 | 25.00 |" in text
    assert "| failed requests or incomplete streams, native | 1 | ≤ 0 | FAIL |" in text
    assert "1,234 JSON access-log lines" in text
    assert "translator 5.5 µs" in text
    assert text.rstrip().endswith("Not measured in this run: litellm: pip install failed: x")


def test_splice_replaces_only_the_inference_block() -> None:
    readme = f"# B\n\nintro\n{README_BEGIN}\nold figures\n{README_END}\ntrailer\n"
    out = splice_readme(readme, "new figures\n")
    assert out == f"# B\n\nintro\n{README_BEGIN}\nnew figures\n{README_END}\ntrailer\n"


def test_splice_without_markers_refuses() -> None:
    with pytest.raises(ValueError):
        splice_readme("# no markers\n", "figures\n")


class _Server:
    """An aiohttp app in a thread on 127.0.0.1:0, for the blocking answer check."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    async def _answer(self, request: web.Request) -> web.Response:
        return web.json_response(self.body, headers={"X-Quotio-Route": "native/native"})

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._answer)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = self.runner.addresses[0][1]
        self.ready.set()
        self.loop.run_forever()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[_Server] = []

    def start(body: dict[str, Any]) -> Target:
        server = _Server(body)
        server.thread.start()
        server.ready.wait(10)
        servers.append(server)
        return Target("native", server.port, Managed("native", [], server.port, Path("/dev/null")))

    yield start
    for server in servers:
        server.stop()


def _completion(content: str) -> dict[str, Any]:
    return {"object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]}


def test_check_answer_accepts_the_translated_completion(serve: Any) -> None:
    target = serve(_completion("x" * 800))
    assert check_answer(target) == {"object": "chat.completion", "content_chars": 800, "finish_reason": "stop",
                                    "route": "native/native"}


def test_check_answer_rejects_a_different_body(serve: Any) -> None:
    target = serve(_completion("x" * 799))
    with pytest.raises(RuntimeError, match="native answered an unexpected body"):
        check_answer(target)


def test_rounds_below_one_are_refused(capsys: Any) -> None:
    with pytest.raises(SystemExit) as exit_info:
        inference.main(["--only", "ttfb", "--rounds", "0", "--no-readme"])
    assert exit_info.value.code == 2
    assert "--rounds must be at least 1" in capsys.readouterr().err


def test_paired_difference_is_round_by_round() -> None:
    native = [44.0, 50.0, 41.0, 47.0]
    naive = [40.0, 49.0, 43.0, 44.0]
    # Differences 4, 1, -2, 3: median 2, mean 1.5, sample sd 2.65, standard error 1.32.
    assert paired_difference(native, naive) == {"median": 2.0, "mean": 1.5, "stderr": 1.32, "rounds": 4}
    assert paired_difference(native, naive[:3]) is None  # a round missing on one side: no pairing
    assert paired_difference([1.0], [2.0]) is None
    assert paired_difference(None, naive) is None


def test_ttfb_verdict_notes_the_paired_rounds() -> None:
    results = {"ttfb": {"naive": {"ttfb_p50_ms": 40.0, "p50_rounds_ms": [40.0, 49.0, 43.0, 44.0]},
                        "native": {"ttfb_p50_ms": 43.5, "p50_rounds_ms": [44.0, 50.0, 41.0, 47.0]}}}
    ttfb = next(v for v in verdicts(results)
                if v.name.startswith("TTFB p50 at 100 streams, native translated minus naive"))
    assert ttfb.verdict == "FAIL"
    assert ttfb.note == "paired rounds: median +2.00 ms, mean +1.50 ± 1.32 ms over 4 rounds"
