"""main.log in CLIProxyAPI's line format (global_logger.go, gin_logger.go): lines, the access
line, rotation at the size limit, and structlog events teed into it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from quotio_gateway.logging import tee_main_log
from quotio_gateway.mainlog import (
    MainLogFile,
    access_message,
    close_main_log,
    format_line,
    go_millis_duration,
    open_main_log,
)


def test_line_format() -> None:
    when = time.mktime((2026, 1, 20, 10, 0, 4, 0, 0, -1))
    assert format_line(when, "a1b2c3d4", "warning", "careful\r\n") == \
        "[2026-01-20 10:00:04] [a1b2c3d4] [warn ] careful\n"
    assert format_line(when, None, "info", "x") == "[2026-01-20 10:00:04] [--------] [info ] x\n"
    assert format_line(when, "", "error", "x") == "[2026-01-20 10:00:04] [--------] [error] x\n"


@pytest.mark.parametrize(("seconds", "text"), [
    (0.0004, "0s"), (0.012, "12ms"), (0.9999, "999ms"), (1.5, "1.5s"), (1.25, "1.25s"), (2.0, "2s"),
    (59.1234, "59.123s"), (61.9, "1m1s"), (3725.0, "1h2m5s"),
])
def test_go_millis_duration(seconds: float, text: str) -> None:
    assert go_millis_duration(seconds) == text


def test_access_message() -> None:
    assert access_message(200, 0.012, "127.0.0.1", "POST", "/v1/chat/completions") == \
        '200 |          12ms |       127.0.0.1 | POST    "/v1/chat/completions"'


def test_rotates_past_the_size_limit(tmp_path: Path) -> None:
    file = MainLogFile(tmp_path, max_bytes=100)
    try:
        for i in range(5):
            file.write(f"line {i} " + "x" * 30 + "\n")
    finally:
        file.close()
    rotated = sorted(p.name for p in tmp_path.iterdir() if p.name != "main.log")
    assert rotated and all(name.startswith("main-") and name.endswith(".log") for name in rotated)
    assert (tmp_path / "main.log").read_text().startswith("line 4 ")


def test_a_truncated_file_is_not_rotated_early(tmp_path: Path) -> None:
    file = MainLogFile(tmp_path, max_bytes=100)
    try:
        file.write("a" * 80 + "\n")
        (tmp_path / "main.log").write_bytes(b"")  # DELETE /logs truncates under the writer
        file.write("b" * 30 + "\n")
    finally:
        file.close()
    assert [p.name for p in tmp_path.iterdir()] == ["main.log"]
    assert (tmp_path / "main.log").read_text() == "b" * 30 + "\n"


def test_structlog_events_are_teed_with_their_fields(tmp_path: Path) -> None:
    open_main_log(tmp_path)
    try:
        tee_main_log(None, "warning", {"event": "legacy not healthy yet", "level": "warning", "waited_seconds": 5,
                                       "timestamp": "ignored", "request_id": "abcd1234"})
        tee_main_log(None, "info", {"event": "access", "logger": "quotio_gateway.access", "level": "info"})
    finally:
        close_main_log()
    [line] = (tmp_path / "main.log").read_text().splitlines()
    assert line.endswith("] [abcd1234] [warn ] legacy not healthy yet waited_seconds=5")
