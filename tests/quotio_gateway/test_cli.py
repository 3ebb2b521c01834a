"""The quotio-gateway command as launchers and operators use it (real processes, real sockets)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from quotio_gateway import __version__
from quotio_gateway.cli import UsageError, parse_go_flags
from tests.conftest import SECRET, free_port, write_config

GATEWAY = [sys.executable, "-m", "quotio_gateway"]
ROOT = Path(__file__).resolve().parents[2]


def run(args, **kw):
    return subprocess.run([*GATEWAY, *args], capture_output=True, text=True, timeout=30, cwd=kw.pop("cwd", ROOT),
                          **kw)


def test_version():
    out = run(["--version"])
    assert out.returncode == 0 and out.stdout.strip() == f"quotio-gateway {__version__}"


@pytest.mark.parametrize(("argv", "expected"), [
    (["-config", "/x/c.yaml"], {"config": "/x/c.yaml"}),
    (["--config=/x/c.yaml", "-no-browser"], {"config": "/x/c.yaml", "no-browser": True}),
    (["-config", "c.yaml", "-password", "pw"], {"config": "c.yaml", "password": "pw"}),
    (["-claude-login", "-no-browser=false"], {"claude-login": True, "no-browser": False}),
])
def test_go_flag_parsing(argv, expected):
    assert parse_go_flags(argv) == expected


@pytest.mark.parametrize(("argv", "message"), [
    (["-bogus"], "flag provided but not defined: -bogus"),
    (["-config"], "flag needs an argument: -config"),
    (["-config", "a", "stray"], "unexpected argument 'stray'"),
])
def test_go_flag_errors(argv, message):
    with pytest.raises(UsageError, match=message):
        parse_go_flags(argv)


def test_unknown_legacy_flag_is_a_clear_error_not_a_traceback():
    out = run(["-turbo"])
    assert out.returncode == 2
    assert "flag provided but not defined: -turbo" in out.stderr
    assert "Traceback" not in out.stderr


def test_login_without_legacy_binary_says_why(tmp_path):
    out = run(["-kiro-import", "-config", str(write_config(tmp_path))], cwd=tmp_path)
    assert out.returncode == 2
    assert "-kiro-import is not available natively yet" in out.stderr


def test_missing_config_fails_start_with_the_path(tmp_path):
    out = run(["-config", str(tmp_path / "nope.yaml")])
    assert out.returncode == 1
    assert f"failed to load config: {tmp_path / 'nope.yaml'}" in out.stderr


def test_invalid_config_names_file_key_and_reason(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("port: eighty\n")
    out = run(["-config", str(path)])
    assert out.returncode == 1
    assert str(path) in out.stderr and "port" in out.stderr
    assert "Traceback" not in out.stderr


def test_invalid_flags_file_fails_start(tmp_path):
    flags = tmp_path / "flags.yaml"
    flags.write_text("routes:\n  - {match: 'GET /x', mode: canary, percent: 300}\n")
    out = run(["serve", "--config", str(write_config(tmp_path)), "--flags", str(flags)])
    assert out.returncode == 1
    assert "invalid flags" in out.stderr and "routes.0.percent" in out.stderr


def wait_port(port, proc, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"gateway exited: {proc.stderr.read()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("gateway did not come up")


@pytest.fixture
def gateway_process(tmp_path):
    procs = []

    def start(flags: dict, *, drop_in=True):
        port = free_port()
        config = write_config(tmp_path, {"port": port, "host": "127.0.0.1"})
        (tmp_path / "flags.yaml").write_text(yaml.safe_dump({"server": {"state_dir": str(tmp_path / "state")},
                                                             **flags}))
        args = ["-config", str(config)] if drop_in else ["serve", "--config", str(config)]
        proc = subprocess.Popen([*GATEWAY, *args], cwd=tmp_path, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        procs.append(proc)
        wait_port(port, proc)
        return proc, port, config

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_drop_in_start_serves_management_and_flags_cli(gateway_process):
    _proc, port, _ = gateway_process({"default": "native"})
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v0/management/debug",
                                 headers={"Authorization": f"Bearer {SECRET}"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert json.loads(resp.read()) == {"debug": False}
        assert resp.headers["X-Quotio-Route"] == "native/native"
    url = f"http://127.0.0.1:{port}"
    out = run(["flags", "--url", url, "--key", SECRET, "set", "GET /v0/management/*", "shadow"])
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["status"] == "ok"
    shown = run(["flags", "--url", url, "--key", SECRET, "show"])
    assert "shadow" in shown.stdout and "GET /v0/management/*" in shown.stdout
    denied = run(["flags", "--url", url, "--key", "wrong", "show"])
    assert denied.returncode == 1 and "401" in denied.stderr
    report = run(["shadow", "report", "--url", url, "--key", SECRET])
    assert report.returncode == 0, report.stderr
    # The README's form: the options after the sub-command, as the rollback line writes them.
    back = run(["flags", "set", "GET /v0/management/*", "legacy", "--url", url, "--key", SECRET])
    assert back.returncode == 0, back.stderr
    assert "legacy" in run(["flags", "show", "--url", url, "--key", SECRET]).stdout
    # A key after the sub-command wins over one before it.
    mixed = run(["flags", "--url", url, "--key", "wrong", "show", "--key", SECRET])
    assert mixed.returncode == 0, mixed.stderr
    # Route labels hold a space: the report's route filter is sent encoded.
    by_route = run(["shadow", "report", "--url", url, "--key", SECRET, "--route", "GET /v0/management/*"])
    assert by_route.returncode == 0, by_route.stderr


def test_sigterm_exits_quickly(gateway_process):
    proc, _, _ = gateway_process({})
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=5) == 0
    assert time.monotonic() - started < 2.0  # inside Quotio's SIGTERM → SIGKILL window


@pytest.mark.parametrize("switch", ["", "1"])
def test_a_second_process_shares_the_port_only_with_the_reuse_port_switch(tmp_path, switch):
    port = free_port()
    config = write_config(tmp_path, {"port": port, "host": "127.0.0.1"})
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QUOTIO_GATEWAY_REUSE_PORT": switch}
    procs = []
    try:
        for home in ("a", "b"):
            (tmp_path / home).mkdir()
            flags = tmp_path / home / "flags.yaml"
            flags.write_text(yaml.safe_dump({"default": "native", "server": {"state_dir": str(tmp_path / home)}}))
            procs.append(subprocess.Popen([*GATEWAY, "serve", "--config", str(config), "--flags", str(flags)],
                                          cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                          env=env))
            if home == "a":
                wait_port(port, procs[0])
        second = procs[1]
        if switch:
            assert second.stdout is not None  # the log; an exit ends it with EOF
            assert any("quotio-gateway listening" in line for line in iter(second.stdout.readline, ""))
            assert second.poll() is None
        else:
            assert second.wait(timeout=30) != 0
            assert f"cannot listen on 127.0.0.1:{port}" in second.stderr.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            assert resp.status == 200
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
