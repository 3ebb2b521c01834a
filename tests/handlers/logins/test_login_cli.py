"""The login command: flag mapping, dispatch, and the real process end to end."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import yaml

from handlers.logins.iflow import CookieLoginError
from handlers.logins.login_cli import LoginRequest, login_request_from_go_flags, run_login
from quotio_gateway.cli import parse_go_flags
from tests.handlers.logins.browser_env import BrowserEnv, browser_env

ROOT = Path(__file__).resolve().parents[3]


def _config(env: BrowserEnv, tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"port": 8317, "auth-dir": str(env.auth_dir), "gateway": env.gateway}))
    return path


@pytest.mark.parametrize(("argv", "login", "extra"), [
    (["-login", "-project_id", "p1"], "gemini-cli", {"project_id": "p1"}),
    (["-claude-login", "-no-browser"], "claude", {"no_browser": True}),
    (["-codex-login", "-oauth-callback-port", "9999"], "codex", {"callback_port": 9999}),
    (["-antigravity-login"], "antigravity", {}),
    (["-iflow-login"], "iflow", {}),
    (["-iflow-cookie"], "iflow-cookie", {}),
    (["-qwen-login"], "qwen", {}),
    (["-github-copilot-login"], "github-copilot", {}),
    (["-kiro-google-login"], "kiro-google", {}),
    (["-kiro-aws-login"], "kiro-aws", {}),
    (["-vertex-import", "/k.json"], "vertex", {"vertex_file": "/k.json"}),
])
def test_legacy_flags_map_to_native_logins(argv: list[str], login: str, extra: dict) -> None:
    request = login_request_from_go_flags(parse_go_flags([*argv, "-config", "/c/config.yaml"]))
    assert request is not None
    assert request.login == login and request.config_path == Path("/c/config.yaml")
    for key, value in extra.items():
        assert getattr(request, key) == value


@pytest.mark.parametrize("argv", [["-kiro-import"], ["-kiro-aws-authcode"], ["-claude-login=false"]])
def test_flags_without_native_flow_stay_legacy(argv: list[str]) -> None:
    assert login_request_from_go_flags(parse_go_flags(argv)) is None


async def test_run_login_browser_flow_with_config_endpoints(tmp_path: Path) -> None:
    async with browser_env(tmp_path) as env:
        request = LoginRequest(login="codex", config_path=_config(env, tmp_path), callback_port=0, wait_seconds=10)
        cred = await run_login(request, env.io(), store=env.store, http=env.http)
        assert cred.file_name == "codex-user@example.com-Plus.json"
        assert any(line.startswith("Opened your browser for Codex authentication") for line in env.said)


async def test_run_login_iflow_cookie(tmp_path: Path) -> None:
    async with browser_env(tmp_path) as env:
        request = LoginRequest(login="iflow-cookie", config_path=_config(env, tmp_path), cookie="BXAuth=zz")
        cred = await run_login(request, env.io(), store=env.store, http=env.http)
        assert cred.metadata["cookie"] == "BXAuth=zz;"
        with pytest.raises(CookieLoginError, match="cookie cannot be empty"):
            await run_login(LoginRequest(login="iflow-cookie", config_path=_config(env, tmp_path)), env.io(),
                            store=env.store, http=env.http)


async def test_run_login_vertex_needs_a_file(tmp_path: Path) -> None:
    async with browser_env(tmp_path) as env:
        with pytest.raises(ValueError, match="needs a service-account file"):
            await run_login(LoginRequest(login="vertex", config_path=_config(env, tmp_path)), env.io(),
                            store=env.store, http=env.http)


async def _cli_login(env: BrowserEnv, args: list[str],
                     browser: Callable[[BrowserEnv, str], Awaitable[None]] | None = None) -> tuple[int, str, str]:
    """Run the real command, act as the user's browser on the URL it prints (consenting, unless
    ``browser`` does something else with it), return its outcome."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "quotio_gateway", *args, cwd=str(ROOT),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None and proc.stderr is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(20):
            while True:
                line = (await proc.stdout.readline()).decode()
                assert line, f"process ended before printing a URL: {lines}"
                lines.append(line)
                if line.startswith("http"):
                    break
            await (browser(env, line.strip()) if browser is not None else env.consent(line.strip()))
            rest = await proc.stdout.read()
            err = await proc.stderr.read()
            code = await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return code, "".join(lines) + rest.decode(), err.decode()


async def test_login_command_end_to_end(tmp_path: Path) -> None:
    async with browser_env(tmp_path) as env:
        config = _config(env, tmp_path)
        code, out, err = await _cli_login(env, ["login", "claude", "--no-browser", "--config", str(config),
                                                "--callback-port", "0"])
        assert code == 0, err
        assert "Visit this URL to continue Claude authentication:" in out
        assert "Claude authentication successful; saved claude-user@example.com.json" in out
        data = json.loads((env.auth_dir / "claude-user@example.com.json").read_bytes())
        assert data["type"] == "claude"


async def test_legacy_flag_form_end_to_end(tmp_path: Path) -> None:
    async with browser_env(tmp_path) as env:
        config = _config(env, tmp_path)
        code, out, err = await _cli_login(env, ["-iflow-login", "-no-browser", "-config", str(config),
                                                "-oauth-callback-port", "0"])
        assert code == 0, err
        saved = re.search(r"saved (iflow-user@example\.com-\d+\.json)", out)
        assert saved is not None
        assert json.loads((env.auth_dir / saved.group(1)).read_bytes())["api_key"] == "sk-iflow-fake"


async def test_failed_login_exits_1_with_the_reason(tmp_path: Path) -> None:
    async with browser_env(tmp_path) as env:
        env.fake.deny_consent = True
        config = _config(env, tmp_path)
        code, _, err = await _cli_login(env, ["login", "codex", "--no-browser", "--config", str(config),
                                              "--callback-port", "0"])
        assert code == 1
        assert "quotio-gateway: codex login failed: Bad Request" in err
        assert list(env.auth_dir.iterdir()) == []
