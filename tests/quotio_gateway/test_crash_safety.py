"""kill -9 in the middle of writes: config.yaml, flags.yaml and the SQLite state stay whole."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from quotio_gateway.flags.loader import load_flags_file
from tests.conftest import SECRET, free_port, write_config
from tests.quotio_gateway.test_cli import wait_port

ROOT = Path(__file__).resolve().parents[2]


def hammer(port: int, stop: threading.Event, counts: dict) -> None:
    i = 0
    while not stop.is_set():
        i += 1
        requests = [
            ("PUT", "/v0/management/debug", {"value": i % 2 == 0}),
            ("PUT", "/v0/management/api-keys", [f"k{i}", f"k{i + 1}"]),
            ("PATCH", "/v0/gateway/flags", {"match": "GET /v1/models", "mode": "shadow" if i % 2 else "legacy"}),
        ]
        for method, path, body in requests:
            req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                         method=method, headers={"Authorization": f"Bearer {SECRET}",
                                                                 "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=2) as resp:
                    counts["ok"] += resp.status == 200
            except (urllib.error.URLError, OSError, ConnectionError):
                return


def test_sigkill_during_writes_loses_nothing(tmp_path):
    state = tmp_path / "state"
    for round_no in range(3):
        port = free_port()
        config = write_config(tmp_path, {"port": port, "host": "127.0.0.1", "debug": False})
        flags = tmp_path / "flags.yaml"
        if round_no == 0:
            flags.write_text(yaml.safe_dump({"default": "native", "server": {"state_dir": str(state)},
                                             "routes": [{"match": "GET /v1/models", "mode": "legacy"}]}))
        proc = subprocess.Popen([sys.executable, "-m", "quotio_gateway", "-config", str(config)], cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            wait_port(port, proc)
            stop, counts = threading.Event(), {"ok": 0}
            worker = threading.Thread(target=hammer, args=(port, stop, counts))
            worker.start()
            time.sleep(0.6 + 0.3 * round_no)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=5)
            stop.set()
            worker.join(timeout=5)
            assert counts["ok"] > 3
        finally:
            if proc.poll() is None:
                proc.kill()
        doc = yaml.safe_load(config.read_text())
        assert isinstance(doc["debug"], bool) and isinstance(doc["api-keys"], list)
        assert doc["remote-management"]["secret-key"].startswith("$2")
        load_flags_file(flags)  # parses and validates
        with sqlite3.connect(state / "state.sqlite3") as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            versions = [v for (v,) in db.execute("SELECT version FROM flag_audit ORDER BY id")]
        assert versions == sorted(versions) and len(versions) >= 2
