"""The CLI logins as the Quotio app runs them: stdout is a pipe it reads while the login waits.

Quotio starts ``CLIProxyAPI -github-copilot-login -config PATH`` (also the Kiro device logins)
with stdout piped and scrapes ``enter the code: `` from it to show the device code
(quotio-client-contract.md §2.2). Go's stdout is unbuffered; a Python process whose stdout is a
pipe buffers it until exit, which here is after the user typed the code they were never shown.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import yaml

from tests.fakes.device_providers import DeviceProviderState, provider_endpoints, start_device_providers

ROOT = Path(__file__).resolve().parents[3]


async def test_device_code_reaches_a_piped_stdout_while_the_login_waits(tmp_path: Path) -> None:
    runner, fake = await start_device_providers(DeviceProviderState(polls={"github": ["pending"]}, interval=1))
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"port": 8317, "auth-dir": str(tmp_path / "auth"),
                                      "gateway": {"provider-endpoints": provider_endpoints(fake.base_url)}}))
    # Quotio's environment: its own plus TERM, nothing that makes Python unbuffered.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    env["TERM"] = "xterm-256color"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "quotio_gateway", "-github-copilot-login", "-no-browser", "-config", str(config),
        cwd=str(ROOT), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL, env=env)
    assert proc.stdout is not None
    try:
        seen: list[str] = []
        async with asyncio.timeout(15):
            while not any("enter the code: " in line for line in seen):
                line = (await proc.stdout.readline()).decode()
                assert line, f"stdout closed before the device code: {seen}"
                seen.append(line)
        # Still polling GitHub: the code came out while the login waits, not at exit.
        assert proc.returncode is None
        code_line = next(line for line in seen if "enter the code: " in line)
        assert code_line.rstrip("\n").endswith("enter the code: ABCD-0001")
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
        await runner.cleanup()
