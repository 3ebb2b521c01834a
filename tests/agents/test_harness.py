"""The harness's own logic that needs no CLI: skip reasons, the Codex config, the clean environment."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from tests.agents.harness import CODEX, CODEX_KEY_ENV, DEAD_PROXY, NO_PROXY, Agent, _base_env, codex_config


def _agent_in(prefix: Path) -> Agent:
    return dataclasses.replace(CODEX, prefix=prefix)


def test_never_installed_names_the_install_step(tmp_path: Path) -> None:
    assert _agent_in(tmp_path).unavailable() == (
        "@openai/codex was never installed: run tests/agents/install.sh (make test does)")


def test_failed_install_reason_is_the_skip_reason(tmp_path: Path) -> None:
    (tmp_path / "status").mkdir()
    (tmp_path / "status" / "codex").write_text("failed: npm install @openai/codex@0.169.0: ENOTFOUND\n")
    assert _agent_in(tmp_path).unavailable() == (
        "@openai/codex@0.169.0 could not be installed: failed: npm install @openai/codex@0.169.0: ENOTFOUND")


def test_other_version_installed_is_not_ok(tmp_path: Path) -> None:
    (tmp_path / "status").mkdir()
    (tmp_path / "status" / "codex").write_text("ok 0.168.0\n")
    assert _agent_in(tmp_path).unavailable() == "@openai/codex@0.169.0 could not be installed: ok 0.168.0"


def test_ok_status_without_executable(tmp_path: Path) -> None:
    (tmp_path / "status").mkdir()
    (tmp_path / "status" / "codex").write_text("ok 0.169.0\n")
    assert _agent_in(tmp_path).unavailable() == (
        f"@openai/codex: {tmp_path}/bin/codex is missing although the install step reported ok")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "codex").write_text("")
    assert _agent_in(tmp_path).unavailable() is None


def test_codex_config_is_toml_with_the_offline_switches() -> None:
    doc = tomllib.loads(codex_config("http://127.0.0.1:4000", 'odd "model" name'))
    assert doc["model"] == 'odd "model" name'
    assert doc["model_provider"] == "acc"
    assert doc["check_for_update_on_startup"] is False
    assert doc["model_providers"]["acc"] == {
        "name": "acc", "base_url": "http://127.0.0.1:4000/v1", "env_key": CODEX_KEY_ENV, "wire_api": "responses",
        "request_max_retries": 0, "stream_max_retries": 0}
    assert doc["analytics"] == {"enabled": False}
    assert doc["feedback"] == {"enabled": False}
    assert doc["otel"] == {"exporter": "none"}
    assert doc["history"] == {"persistence": "none"}
    assert doc["features"] == {"plugins": False, "remote_plugin": False, "plugin_sharing": False, "apps": False,
                               "in_app_updates": False}


def test_base_env_keeps_only_path_and_lang(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "must-not-leak")
    monkeypatch.setenv("PATH", "/usr/bin")
    monkeypatch.setenv("LANG", "C.UTF-8")
    env = _base_env(tmp_path, DEAD_PROXY)
    assert "OPENAI_API_KEY" not in env
    assert env["PATH"] == "/usr/bin"
    assert env["LANG"] == "C.UTF-8"
    assert env["HOME"] == str(tmp_path)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        assert env[name] == "http://127.0.0.1:9"
    assert env["NO_PROXY"] == env["no_proxy"] == NO_PROXY == "127.0.0.1,localhost,::1"
