"""LiteLLM's proxy as an extra anchor for the native-inference benchmarks.

LiteLLM is what most people would reach for instead of this gateway, and ../shared/DESIGN.md
quotes its cost. It is not a dependency of the project: ``litellm[proxy]`` goes into its own venv
under benchmarks/results/.cache (gitignored), installed once from PyPI, like the Go toolchain of
``go_anchor.py``. Offline operation needs two settings: the model price map is read from the
package (``LITELLM_LOCAL_MODEL_COST_MAP``) instead of being downloaded at start-up, and the proxy
gets a master key, since recent versions refuse to start open. The key is the same dummy bearer
``post.lua`` sends every target, which LiteLLM calls weak, so the config says to permit it: this
instance only ever listens on loopback for the length of a run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

LITELLM_REQUIREMENT = "litellm[proxy]>=1.50,<2"
CLIENT_KEY = "sk-bench"  # what post.lua and the stream client send as their bearer
UPSTREAM_KEY = "sk-upstream-bench"
MODEL = "bench-model"
START_TIMEOUT = 120.0  # the proxy imports a great deal before it listens


class LiteLLMUnavailable(Exception):
    """LiteLLM could not be installed or does not run here; the message says why."""


def find_litellm(cache_dir: Path) -> Path:
    """The ``litellm`` launcher in the cache venv, installing ``litellm[proxy]`` there once."""
    venv = cache_dir / "litellm-venv"
    launcher = venv / "bin" / "litellm"
    if launcher.exists():
        return launcher
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120, capture_output=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", LITELLM_REQUIREMENT],
                       check=True, timeout=900, capture_output=True, text=True)
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or exc.stdout or "").strip().splitlines()
        errors = [line for line in tail if not line.startswith("WARNING")]
        raise LiteLLMUnavailable(f"pip install {LITELLM_REQUIREMENT} failed: "
                                 f"{(errors or tail or ['no output'])[-1][:300]}") from exc
    except (subprocess.TimeoutExpired, OSError) as exc:
        raise LiteLLMUnavailable(f"pip install {LITELLM_REQUIREMENT} failed: {exc}") from exc
    if not launcher.exists():
        raise LiteLLMUnavailable(f"{LITELLM_REQUIREMENT} installed no litellm launcher")
    return launcher


def litellm_version(launcher: Path) -> str | None:
    python = launcher.parent / "python"
    try:
        out = subprocess.run([str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
                             capture_output=True, text=True, timeout=60, check=True)
    except (subprocess.SubprocessError, OSError):
        return None
    return out.stdout.strip() or None


def litellm_config(api_base: str) -> dict[str, Any]:
    """One model, ``bench-model``, served by the fake Anthropic upstream at ``api_base``."""
    return {
        "model_list": [{
            "model_name": MODEL,
            "litellm_params": {"model": "anthropic/claude-bench", "api_base": api_base, "api_key": UPSTREAM_KEY},
        }],
        "litellm_settings": {"telemetry": False},
        "general_settings": {"master_key": CLIENT_KEY, "dangerously_permit_weak_or_unset_master_key": True},
    }


def litellm_env() -> dict[str, str]:
    # No DATABASE_URL is set: keys, spend logs and the UI stay off, the lightest LiteLLM proxy.
    return {
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
        "LITELLM_TELEMETRY": "False",
    }


def litellm_argv(launcher: Path, config: Path, port: int) -> list[str]:
    return [str(launcher), "--config", str(config), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"]
