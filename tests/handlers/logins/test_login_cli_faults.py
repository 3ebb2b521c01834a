"""The real login command under token-endpoint faults and stray callbacks: exit status, the line the
user reads, and the credential file already on disk."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import yaml

from tests.handlers.logins.browser_env import BrowserEnv, browser_env
from tests.handlers.logins.test_login_cli import _cli_login

ROOT = Path(__file__).resolve().parents[3]
OLD = b'{"type":"claude","access_token":"old-but-valid"}'

Browser = Callable[[BrowserEnv, str], Awaitable[None]]


async def _consent(env: BrowserEnv, url: str) -> None:
    await env.consent(url)


async def _cli(env: BrowserEnv, tmp_path: Path, args: list[str], browser: Browser = _consent) -> tuple[int, str, str]:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"port": 8317, "auth-dir": str(env.auth_dir), "gateway": env.gateway}))
    return await _cli_login(env, [str(config) if a == "CFG" else a for a in args], browser)


def _last_line(err: str) -> str:
    return err.strip().splitlines()[-1]


# (argv, fake family, fault, file a success would write, the line the user reads)
TOKEN_FAULTS = [
    (["login", "claude", "--no-browser", "--config", "CFG", "--callback-port", "0"], "claude", "http500",
     "claude-user@example.com.json",
     "quotio-gateway: claude login failed: token exchange failed with status 500 ({host} answered HTTP 500)"),
    (["-codex-login", "-no-browser", "-config", "CFG", "-oauth-callback-port", "0"], "codex", "malformed",
     "codex-user@example.com-Plus.json",
     "quotio-gateway: codex login failed: Failed to parse token response "
     "({host} answered HTTP 200 with malformed JSON)"),
    (["-antigravity-login", "-no-browser", "-config", "CFG", "-oauth-callback-port", "0"], "google", "http500",
     "antigravity-user_example_com.json",
     "quotio-gateway: antigravity login failed: Token exchange failed: 500 ({host} answered HTTP 500)"),
    (["-login", "-no-browser", "-config", "CFG", "-oauth-callback-port", "0", "-project_id", "p1"], "google",
     "malformed", "user@example.com-p1.json",
     "quotio-gateway: gemini-cli login failed: Failed to exchange token "
     "({host} answered HTTP 200 with malformed JSON)"),
]


@pytest.mark.parametrize(("argv", "family", "fault", "file_name", "message"), TOKEN_FAULTS)
async def test_token_endpoint_fault_exits_1_and_keeps_the_existing_file(
        tmp_path: Path, argv: list[str], family: str, fault: str, file_name: str, message: str) -> None:
    async with browser_env(tmp_path) as env:
        env.fake.token_fault[family] = fault
        (env.auth_dir / file_name).write_bytes(OLD)
        code, out, err = await _cli(env, tmp_path, argv)
        assert code == 1, err
        assert _last_line(err) == message.format(host=env.fake.url.removeprefix("http://"))
        assert "authentication successful" not in out
        assert sorted(p.name for p in env.auth_dir.iterdir()) == [file_name]
        assert (env.auth_dir / file_name).read_bytes() == OLD


async def test_consent_denied_with_the_legacy_flag_exits_1_and_writes_nothing(tmp_path: Path) -> None:
    async with browser_env(tmp_path) as env:
        env.fake.deny_consent = True
        (env.auth_dir / "claude-user@example.com.json").write_bytes(OLD)
        code, _, err = await _cli(env, tmp_path, ["-claude-login", "-no-browser", "-config", "CFG",
                                                  "-oauth-callback-port", "0"])
        assert code == 1
        assert _last_line(err) == "quotio-gateway: claude login failed: Bad request (provider returned error " \
                                  "'access_denied')"
        assert env.fake.seen("/claude/token") == []
        assert sorted(p.name for p in env.auth_dir.iterdir()) == ["claude-user@example.com.json"]
        assert (env.auth_dir / "claude-user@example.com.json").read_bytes() == OLD


async def test_forged_state_and_missing_code_are_refused_then_the_real_callback_wins(tmp_path: Path) -> None:
    seen: list[int] = []

    async def browser(env: BrowserEnv, url: str) -> None:
        async with env.http.get(url, allow_redirects=False) as resp:
            real = resp.headers["Location"]
        seen.append((await env.visit(re.sub(r"state=[^&]+", "state=forged", real))).status)
        seen.append((await env.visit(re.sub(r"code=[^&]+&?", "", real))).status)
        seen.append((await env.visit(real)).status)
        seen.append((await env.visit(real)).status)  # replay of the used callback

    async with browser_env(tmp_path) as env:
        code, out, err = await _cli(env, tmp_path, ["login", "claude", "--no-browser", "--config", "CFG",
                                                    "--callback-port", "0"], browser)
        assert code == 0, err
        # docs/compatibility.md rows 40-41: stray callbacks get 400, a replay 409; the login kept waiting.
        assert seen == [400, 400, 200, 409]
        assert out.endswith("Claude authentication successful; saved claude-user@example.com.json\n")
        assert len(env.fake.seen("/claude/token")) == 1


async def test_read_only_auth_dir_fails_the_login_and_keeps_the_existing_file(tmp_path: Path) -> None:
    from tests.handlers.auth.stores.test_file_store import read_only_dir

    async with browser_env(tmp_path) as env:
        (env.auth_dir / "claude-user@example.com.json").write_bytes(OLD)
        with read_only_dir(env.auth_dir):
            code, _, err = await _cli(env, tmp_path, ["login", "claude", "--no-browser", "--config", "CFG",
                                                      "--callback-port", "0"])
        assert code == 1
        assert _last_line(err).startswith("quotio-gateway: claude login failed: Failed to save authentication "
                                          f"tokens (file store: auth dir {env.auth_dir} is not writable: ")
        assert sorted(p.name for p in env.auth_dir.iterdir()) == ["claude-user@example.com.json"]
        assert (env.auth_dir / "claude-user@example.com.json").read_bytes() == OLD
