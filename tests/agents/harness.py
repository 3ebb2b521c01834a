"""Runs the real coding-agent CLIs (Claude Code, Codex CLI, Gemini CLI) as test clients.

Each run is one non-interactive prompt against a given server root, offline as
../shared/reference/cli-agents-wire.md describes: a clean environment (only PATH and LANG are
inherited), a fresh HOME with XDG dirs under it, every proxy variable pointing at a dead or
probing loopback port with loopback exempted, and each CLI's own telemetry/update switches off.
So the only network a CLI can reach is the loopback server the test names.

The CLIs come from tests/agents/install.sh (prefix .cache/agents, or $AGENTS_PREFIX); the
install step leaves a status file per CLI, and ``Agent.unavailable()`` turns a failed install into
the reason a test is skipped with.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parents[2]
PREFIX = Path(os.environ.get("AGENTS_PREFIX", ROOT / ".cache" / "agents"))

# Port 9 (discard) has no listener: a CLI that tried the internet through the proxy fails fast.
DEAD_PROXY = "http://127.0.0.1:9"
NO_PROXY = "127.0.0.1,localhost,::1"

CLAUDE_SWITCHES = (
    "DISABLE_TELEMETRY", "DISABLE_ERROR_REPORTING", "DISABLE_AUTOUPDATER", "DISABLE_UPDATES",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "DISABLE_GROWTHBOOK", "DISABLE_BUG_COMMAND",
    "DISABLE_COST_WARNINGS", "DISABLE_INSTALLATION_CHECKS", "DISABLE_LOGIN_COMMAND",
    "CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY", "CLAUDE_CODE_DISABLE_TERMINAL_TITLE",
    "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL", "CLAUDE_CODE_SKIP_REPO_UPLOAD",
)

# The env var Codex reads the provider key from (named in config.toml, so any name works).
CODEX_KEY_ENV = "ACC_CODEX_KEY"

GEMINI_SETTINGS = {
    "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False,
                "disableAutoUpdate": True, "disableUpdateNag": True,
                # One attempt: a test wants the first error, not a run of retries with backoff.
                "maxAttempts": 1},
    "privacy": {"usageStatisticsEnabled": False},
    "telemetry": {"enabled": False},
    "security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": False}},
    "ide": {"enabled": False},
}


@dataclass(frozen=True)
class AgentResult:
    exit_code: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        """For assertion messages: everything a failing run printed."""
        return f"exit {self.exit_code}\n--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"


@dataclass(frozen=True)
class Agent:
    """One CLI: ``name`` is its executable under <prefix>/bin and its status file name."""

    name: str
    package: str
    version: str
    prefix: Path = PREFIX

    @property
    def executable(self) -> Path:
        return self.prefix / "bin" / self.name

    def unavailable(self) -> str | None:
        """Why this CLI cannot run (the install step's recorded reason), or None when it can."""
        status = self.prefix / "status" / self.name
        if not status.is_file():
            return f"{self.package} was never installed: run tests/agents/install.sh (make test does)"
        text = status.read_text().strip()
        if text != f"ok {self.version}":
            return f"{self.package}@{self.version} could not be installed: {text}"
        if not self.executable.exists():
            return f"{self.package}: {self.executable} is missing although the install step reported ok"
        return None

    async def run(self, base_url: str, *, model: str, key: str, prompt: str, workdir: Path,
                  proxy: str = DEAD_PROXY, time_limit: float = 90.0,
                  claude_auth: Literal["api-key", "auth-token"] = "api-key") -> AgentResult:
        """Runs one prompt against ``base_url`` (a server root, no /v1) and waits for the CLI to exit.

        ``workdir`` gets the temporary HOME and the working directory; it should be empty and
        private to this run. ``claude_auth`` picks how Claude Code carries the key:
        ``ANTHROPIC_API_KEY`` (``x-api-key``) or ``ANTHROPIC_AUTH_TOKEN`` (``Authorization: Bearer``).
        On timeout the CLI's whole process group is killed and the result carries exit code -9
        with what was printed so far.
        """
        home = workdir / "home"
        cwd = workdir / "cwd"
        for directory in (home, cwd, home / ".config", home / ".cache", home / ".local" / "share",
                          home / ".local" / "state"):
            directory.mkdir(parents=True, exist_ok=True)
        env = _base_env(home, proxy)
        argv = self._prepare(env, home, base_url.rstrip("/"), model, key, prompt, claude_auth)
        return await _execute(argv, env, cwd, time_limit)

    def _prepare(self, env: dict[str, str], home: Path, root: str, model: str, key: str, prompt: str,
                 claude_auth: str) -> list[str]:
        if self.name == "claude":
            env.update({switch: "1" for switch in CLAUDE_SWITCHES})
            # One attempt: a test wants the first error, not minutes of backoff over retried ones.
            env["CLAUDE_CODE_MAX_RETRIES"] = "0"
            env["ANTHROPIC_BASE_URL"] = root
            env["ANTHROPIC_API_KEY" if claude_auth == "api-key" else "ANTHROPIC_AUTH_TOKEN"] = key
            # Every model slot points at the test's model, so no request can carry another name.
            for slot in ("ANTHROPIC_MODEL", "ANTHROPIC_SMALL_FAST_MODEL", "ANTHROPIC_DEFAULT_HAIKU_MODEL",
                         "ANTHROPIC_DEFAULT_SONNET_MODEL", "ANTHROPIC_DEFAULT_OPUS_MODEL"):
                env[slot] = model
            return [str(self.executable), "-p", prompt]
        if self.name == "codex":
            codex_home = home / ".codex"
            codex_home.mkdir(exist_ok=True)
            (codex_home / "config.toml").write_text(codex_config(root, model))
            env["CODEX_HOME"] = str(codex_home)
            env[CODEX_KEY_ENV] = key
            return [str(self.executable), "exec", "--skip-git-repo-check", "--ephemeral", "--color", "never",
                    prompt]
        if self.name == "gemini":
            settings = home / ".gemini"
            settings.mkdir(exist_ok=True)
            (settings / "settings.json").write_text(json.dumps(GEMINI_SETTINGS, indent=2))
            env.update({"GOOGLE_GEMINI_BASE_URL": root, "GEMINI_API_KEY": key, "GEMINI_MODEL": model,
                        "GEMINI_TELEMETRY_ENABLED": "false", "GEMINI_CLI_NO_RELAUNCH": "true",
                        "GEMINI_CLI_TRUST_WORKSPACE": "true", "GEMINI_DEFAULT_AUTH_TYPE": "gemini-api-key"})
            return [str(self.executable), "-p", prompt]
        raise ValueError(f"unknown agent {self.name!r}")


CLAUDE = Agent("claude", "@anthropic-ai/claude-code", "2.1.197")
CODEX = Agent("codex", "@openai/codex", "0.169.0")
GEMINI = Agent("gemini", "@google/gemini-cli", "0.61.0")
AGENTS = {agent.name: agent for agent in (CLAUDE, CODEX, GEMINI)}


def _toml_string(value: str) -> str:
    # A JSON string literal is a valid TOML basic string for the characters a URL or model holds.
    return json.dumps(value)


def codex_config(root: str, model: str) -> str:
    """config.toml for one run: a Responses provider at ``root``/v1 and every network extra off."""
    return "\n".join([
        f"model = {_toml_string(model)}",
        'model_provider = "acc"',
        'approval_policy = "never"',
        'sandbox_mode = "read-only"',
        "check_for_update_on_startup = false",
        "",
        "[model_providers.acc]",
        'name = "acc"',
        f"base_url = {_toml_string(root + '/v1')}",
        f"env_key = {_toml_string(CODEX_KEY_ENV)}",
        'wire_api = "responses"',
        "request_max_retries = 0",
        "stream_max_retries = 0",
        "",
        "[analytics]",
        "enabled = false",
        "",
        "[feedback]",
        "enabled = false",
        "",
        "[otel]",
        'exporter = "none"',
        "",
        "[history]",
        'persistence = "none"',
        "",
        "[features]",
        "plugins = false",
        "remote_plugin = false",
        "plugin_sharing = false",
        "apps = false",
        "in_app_updates = false",
        "",
    ])


def _base_env(home: Path, proxy: str) -> dict[str, str]:
    env = {name: os.environ[name] for name in ("PATH", "LANG") if name in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update({
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
    })
    # Both spellings: node libraries read the lower-case ones, Rust's reqwest either.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = env[name.lower()] = proxy
    env["NO_PROXY"] = env["no_proxy"] = NO_PROXY
    return env


async def _execute(argv: list[str], env: dict[str, str], cwd: Path, time_limit: float) -> AgentResult:
    # Own session: on timeout the CLI and anything it spawned go down together.
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, start_new_session=True)
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), time_limit)
    except TimeoutError:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        stdout, stderr = await process.communicate()
        return AgentResult(-9, stdout.decode(errors="replace"),
                           stderr.decode(errors="replace") + f"\n[harness: killed after {time_limit} s]")
    return AgentResult(process.returncode if process.returncode is not None else -1,
                       stdout.decode(errors="replace"), stderr.decode(errors="replace"))
