"""Device logins from the command line as the Quotio app runs them (``-github-copilot-login``,
``-kiro-aws-login``, ``-qwen-login``): a code that expired or a user who said no ends the command with
exit status 1 and one line naming it, and a credential already on disk stays as it was."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
import yaml

from tests.fakes.device_providers import DeviceProviderState, provider_endpoints, start_device_providers

ROOT = Path(__file__).resolve().parents[3]
EXISTING = b'{"access_token":"still-good","type":"github-copilot"}'


@pytest.mark.parametrize(("provider", "flag", "login"), [
    ("github", "-github-copilot-login", "github-copilot"),
    ("kiro", "-kiro-aws-login", "kiro-aws"),
    ("qwen", "-qwen-login", "qwen"),
])
@pytest.mark.parametrize(("script", "message"), [
    (["pending", "expired_token"], "device code expired; start the login again"),
    (["slow_down", "access_denied"], "authorization denied by the user; start the login again"),
])
async def test_device_login_refusal_exits_1_and_keeps_existing_files(
        tmp_path: Path, provider: str, flag: str, login: str, script: list[str], message: str) -> None:
    runner, fake = await start_device_providers(DeviceProviderState(polls={provider: list(script)}, interval=1))
    try:
        auth_dir = tmp_path / "auth"
        auth_dir.mkdir()
        (auth_dir / "github-copilot-someone.json").write_bytes(EXISTING)
        config = tmp_path / "config.yaml"
        config.write_text(yaml.safe_dump({"port": 8317, "auth-dir": str(auth_dir),
                                          "gateway": {"provider-endpoints": provider_endpoints(fake.base_url)}}))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "quotio_gateway", flag, "-no-browser", "-config", str(config), cwd=str(ROOT),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 1
        assert err.decode().strip().splitlines()[-1] == f"quotio-gateway: {login} login failed: {message}"
        assert sorted(p.name for p in auth_dir.iterdir()) == ["github-copilot-someone.json"]
        assert (auth_dir / "github-copilot-someone.json").read_bytes() == EXISTING
    finally:
        await runner.cleanup()
