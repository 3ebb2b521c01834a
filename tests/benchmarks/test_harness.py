"""benchmarks/harness.py and streams' budget: the parsers and arithmetic, without timing anything."""

from __future__ import annotations

import os

import pytest

from benchmarks.harness import (
    cpu_seconds,
    involuntary_switches,
    parse_duration,
    parse_stat_cpu_ticks,
    parse_stat_ppid,
    parse_status_involuntary,
    parse_status_rss_kb,
    parse_wrk,
    percentile,
    process_tree,
    ratio,
    rss_kb,
)
from benchmarks.streams import first_byte_spread, idle_stream_budget

WRK_LATENCY = """\
Running 5s test @ http://127.0.0.1:40001/v1/chat/completions
  1 threads and 1 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   412.33us  120.10us   4.70ms   91.20%
    Req/Sec     2.41k    80.12     2.55k    70.00%
  Latency Distribution
     50%  398.00us
     75%  430.00us
     90%    1.02ms
     99%    4.74ms
  12003 requests in 5.00s, 13.12MB read
  Non-2xx or 3xx responses: 7
Requests/sec:   2400.51
Transfer/sec:      2.62MB
"""

WRK_ERRORS = """\
Running 2s test @ http://127.0.0.1:40001/
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.01ms    0.50ms  10.00ms   80.00%
    Req/Sec     3.90k   100.00     4.00k    60.00%
  7800 requests in 2.00s, 8.00MB read
  Socket errors: connect 1, read 2, write 3, timeout 4
Requests/sec:   3899.00
Transfer/sec:      4.00MB
"""


def test_parse_wrk_reads_counts_rate_and_percentiles() -> None:
    result = parse_wrk(WRK_LATENCY)
    assert result.requests == 12003
    assert result.rps == 2400.51
    assert result.percentiles == pytest.approx({50: 398e-6, 75: 430e-6, 90: 1.02e-3, 99: 4.74e-3})
    assert result.non_2xx == 7
    assert result.socket_errors == 0


def test_parse_wrk_sums_socket_errors_and_has_no_percentiles_without_latency_flag() -> None:
    result = parse_wrk(WRK_ERRORS)
    assert result.socket_errors == 10
    assert result.non_2xx == 0
    assert result.percentiles == {}


def test_parse_wrk_rejects_output_without_totals() -> None:
    with pytest.raises(ValueError, match="unrecognised wrk output"):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("305.00us", 305e-6), ("1.23ms", 1.23e-3), ("2.00s", 2.0), ("1.50m", 90.0), ("0.5h", 1800.0)],
)
def test_parse_duration_units(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "12", "3.0ns", "ms", "1.0 ms x"])
def test_parse_duration_rejects_other_shapes(text: str) -> None:
    with pytest.raises(ValueError, match="not a wrk duration"):
        parse_duration(text)


def test_stat_line_fields_counted_from_the_last_parenthesis() -> None:
    # A command name with spaces and a ')' must not shift the fields.
    line = "4242 (we ird) name) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 38 0 0 20 0 3 0 12345 0 0"
    assert parse_stat_cpu_ticks(line) == 288
    assert parse_stat_ppid(line) == 17


def test_status_rss() -> None:
    text = "Name:\tpython\nVmPeak:\t 99999 kB\nVmRSS:\t   40104 kB\nThreads:\t1\n"
    assert parse_status_rss_kb(text) == 40104
    assert parse_status_rss_kb("Name:\tkthreadd\n") is None


def test_status_involuntary_switches() -> None:
    text = "Name:\tpython\nvoluntary_ctxt_switches:\t812\nnonvoluntary_ctxt_switches:\t37\n"
    assert parse_status_involuntary(text) == 37
    assert parse_status_involuntary("Name:\tkthreadd\n") is None


def test_involuntary_switches_of_a_live_process_add_up_its_threads() -> None:
    pid = os.getpid()
    with open(f"/proc/{pid}/task/{pid}/status") as fh:
        main_thread = parse_status_involuntary(fh.read()) or 0
    tasks = os.listdir(f"/proc/{pid}/task")
    # Counters only grow, so the sum over the threads read later is at least the main thread's.
    assert involuntary_switches([pid]) >= main_thread
    assert len(tasks) >= 1
    assert involuntary_switches([2**22 + 7]) == 0  # a pid that is not running counts nothing


def test_proc_readers_on_this_process() -> None:
    me = os.getpid()
    assert me in process_tree(me)
    assert rss_kb([me]) > 0
    assert cpu_seconds([me]) > 0
    # A pid that cannot exist contributes nothing instead of raising.
    assert rss_kb([2**22 + 1]) == 0
    assert cpu_seconds([2**22 + 1]) == 0


def test_percentile_nearest_rank() -> None:
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert percentile(values, 50) == 3.0
    assert percentile(values, 99) == 5.0
    assert percentile(values, 0) == 1.0
    assert percentile([7.0], 50) == 7.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_ratio_handles_missing_and_zero() -> None:
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(None, 2.0) is None
    assert ratio(1.0, None) is None
    assert ratio(1.0, 0.0) is None


def test_idle_budget_two_descriptors_per_stream() -> None:
    assert idle_stream_budget(10_000, 65_536) == 10_000
    assert idle_stream_budget(10_000, 20_000) == 9_900
    assert idle_stream_budget(10_000, 20_000, headroom=1000) == 9_500
    assert idle_stream_budget(10_000, 100) == 0


def test_first_byte_spread_is_p10_to_p90_of_arrivals() -> None:
    # A proxy that keeps up: first bytes arrive together, whatever order they were asked in.
    assert first_byte_spread([0.040] * 50 + [0.041] * 50) == pytest.approx(0.001)
    # A proxy that is the bottleneck: one first byte every 0.5 ms.
    ramp = [0.020 + i * 0.0005 for i in range(100)]
    assert first_byte_spread(ramp) == pytest.approx(ramp[89] - ramp[9])
    assert first_byte_spread([0.1]) is None
    assert first_byte_spread([]) is None
