#!/usr/bin/env python3
"""Stand-in for the CLIProxyAPI binary in supervisor tests.

Started like the real one (``fake_binary.py [flags] -config PATH``), it reads ``host`` and ``port``
from that YAML file and serves:

* ``GET /``                       200 JSON with its pid (the real binary greets with JSON here too)
* ``GET /v0/management/debug``    200 JSON, the path launchers health-check
* ``GET /__config``               200 JSON of the config file as it is on disk now
* ``PUT /__config``               merge a JSON object into the config file and rewrite it in place,
                                  the way the real binary persists management-API edits
* ``POST /__die``                 exit with status 1 at once

Flags: ``-pidfile PATH`` writes the pid there; ``--ignore-sigterm`` (or FAKE_IGNORE_SIGTERM=1) makes
SIGTERM do nothing, so only SIGKILL stops it; ``--spam BYTES`` writes that much to stdout, in
10,000-character lines, before listening (a child whose pipe is not read would block there).
Unknown flags are accepted and ignored.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


class _Handler(BaseHTTPRequestHandler):
    config_path: Path

    def log_message(self, format: str, *args: Any) -> None:
        sys.stdout.write(f"request {self.command} {self.path}\n")
        sys.stdout.flush()

    def _json(self, status: int, body: object) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        if self.path == "/":
            self._json(200, {"message": "fake CLI Proxy API Server", "pid": os.getpid()})
        elif self.path == "/v0/management/debug":
            self._json(200, {"debug": bool(_load(self.config_path).get("debug", False))})
        elif self.path == "/__config":
            self._json(200, _load(self.config_path))
        else:
            self._json(404, {"error": "not found"})

    def do_PUT(self) -> None:
        if self.path != "/__config":
            self._json(404, {"error": "not found"})
            return
        length = int(self.headers.get("Content-Length", "0"))
        changes = json.loads(self.rfile.read(length) or b"{}")
        data = _load(self.config_path)
        data.update(changes)
        # Truncate and write the same file, as the Go binary's os.Create + Write does.
        with open(self.config_path, "w", encoding="utf-8") as handle:
            handle.write(yaml.safe_dump(data, sort_keys=False))
        self._json(200, {"status": "ok"})

    def do_POST(self) -> None:
        if self.path == "/__die":
            sys.stdout.flush()
            os._exit(1)
        self._json(404, {"error": "not found"})


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="fake_binary")
    parser.add_argument("-config", required=True)
    parser.add_argument("-pidfile")
    parser.add_argument("--ignore-sigterm", action="store_true")
    parser.add_argument("--spam", type=int, default=0)
    options, _unknown = parser.parse_known_args(argv)
    if options.ignore_sigterm or os.environ.get("FAKE_IGNORE_SIGTERM") == "1":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    config_path = Path(options.config)
    config = _load(config_path)
    host = str(config.get("host") or "127.0.0.1")
    port = int(config.get("port") or 0)
    if options.pidfile:
        Path(options.pidfile).write_text(str(os.getpid()), encoding="utf-8")
    for start in range(0, options.spam, 10_000):
        sys.stdout.write("x" * min(10_000, options.spam - start) + "\n")
    _Handler.config_path = config_path
    server = ThreadingHTTPServer((host, port), _Handler)
    server.daemon_threads = True
    print(f"fake legacy listening on {host}:{server.server_address[1]}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
