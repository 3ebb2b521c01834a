"""Where the log directory is (ResolveLogDirectory): $WRITABLE_PATH/logs, ./logs when writable,
else <auth-dir>/logs."""

from __future__ import annotations

from pathlib import Path

from handlers.logfiles.directory import resolve_log_dir


def test_writable_path_wins(tmp_path: Path) -> None:
    assert resolve_log_dir("/auth", {"WRITABLE_PATH": f" {tmp_path}/w/ "}, tmp_path) == tmp_path / "w" / "logs"
    assert resolve_log_dir("/auth", {"writable_path": str(tmp_path)}, tmp_path) == tmp_path / "logs"


def test_an_existing_local_logs_dir(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    assert resolve_log_dir("/auth", {}, tmp_path) == tmp_path / "logs"
    assert not (tmp_path / "logs" / ".perm_test").exists()


def test_auth_dir_when_there_is_no_local_logs_dir(tmp_path: Path) -> None:
    assert resolve_log_dir(f"{tmp_path}/auth", {}, tmp_path) == tmp_path / "auth" / "logs"
    assert resolve_log_dir("~/.cli-proxy-api", {}, tmp_path) == Path.home() / ".cli-proxy-api" / "logs"
    assert resolve_log_dir("  ", {"WRITABLE_PATH": "  "}, tmp_path) == tmp_path / "logs"
