"""benchmarks/litellm_anchor.py: install once into its own venv, say why when that fails."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from benchmarks import litellm_anchor
from benchmarks.litellm_anchor import (
    LITELLM_REQUIREMENT,
    LiteLLMUnavailable,
    find_litellm,
    litellm_argv,
    litellm_config,
    litellm_env,
)


def test_config_routes_the_bench_model_to_the_fake_anthropic_upstream() -> None:
    cfg = litellm_config("http://127.0.0.1:7000/toks/20/50")
    (entry,) = cfg["model_list"]
    assert entry["model_name"] == "bench-model"
    assert entry["litellm_params"] == {"model": "anthropic/claude-bench", "api_base": "http://127.0.0.1:7000/toks/20/50",
                                       "api_key": "sk-upstream-bench"}
    # The bearer the benchmark clients send is the proxy's master key, so every request authenticates.
    assert cfg["general_settings"]["master_key"] == "sk-bench"


def test_env_keeps_litellm_offline() -> None:
    env = litellm_env()
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert "DATABASE_URL" not in env


def test_argv_binds_loopback_with_one_worker(tmp_path: Path) -> None:
    argv = litellm_argv(tmp_path / "litellm", tmp_path / "c.yaml", 7001)
    assert argv == [str(tmp_path / "litellm"), "--config", str(tmp_path / "c.yaml"), "--host", "127.0.0.1",
                    "--port", "7001", "--num_workers", "1"]


def test_an_installed_launcher_is_reused_without_running_pip(tmp_path: Path, monkeypatch: Any) -> None:
    launcher = tmp_path / "litellm-venv" / "bin" / "litellm"
    launcher.parent.mkdir(parents=True)
    launcher.write_text("#!/bin/sh\n")

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("nothing should be installed")

    monkeypatch.setattr(litellm_anchor.subprocess, "run", refuse)
    assert find_litellm(tmp_path) == launcher


def test_a_failed_install_names_the_last_pip_error(tmp_path: Path, monkeypatch: Any) -> None:
    def fake_run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        if "install" in argv:
            raise subprocess.CalledProcessError(
                1, argv, output="", stderr="WARNING: ignored\nERROR: No matching distribution found for litellm\n")
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(litellm_anchor.subprocess, "run", fake_run)
    with pytest.raises(LiteLLMUnavailable) as caught:
        find_litellm(tmp_path)
    assert str(caught.value) == (f"pip install {LITELLM_REQUIREMENT} failed: "
                                 "ERROR: No matching distribution found for litellm")


def test_an_install_without_launcher_is_reported(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(litellm_anchor.subprocess, "run",
                        lambda argv, **kwargs: subprocess.CompletedProcess(argv, 0, "", ""))
    with pytest.raises(LiteLLMUnavailable) as caught:
        find_litellm(tmp_path)
    assert str(caught.value) == f"{LITELLM_REQUIREMENT} installed no litellm launcher"
