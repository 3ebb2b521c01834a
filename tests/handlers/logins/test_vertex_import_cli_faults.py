"""``quotio-gateway login vertex --file`` / ``-vertex-import`` on key files it refuses: the line the
user reads, exit status 1, and the Vertex credential already on disk left whole."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
EXISTING = b'{"type":"vertex","project_id":"my-proj","service_account":{"project_id":"my-proj"}}'
NO_KEY = json.dumps({"type": "service_account", "project_id": "my-proj", "client_email": "sa@my-proj.iam"})


@pytest.mark.parametrize("form", ["native", "legacy-flag"])
@pytest.mark.parametrize(("content", "message"), [
    # The legacy's own words for a file that is not JSON (cmd/vertex_import.go:42), then where.
    ("{not json", "invalid service account json: Expecting property name enclosed in double quotes "
                  "at line 1 column 2"),
    ("[1, 2]", "invalid service account json: service account file is not a JSON object"),
    (NO_KEY, "service account missing private_key"),
])
def test_refused_key_file_exits_1_and_keeps_the_existing_credential(tmp_path: Path, form: str, content: str,
                                                                     message: str) -> None:
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir()
    (auth_dir / "vertex-my-proj.json").write_bytes(EXISTING)
    key = tmp_path / "key.json"
    key.write_text(content)
    config = tmp_path / "config.yaml"
    config.write_text(f"port: 8317\nauth-dir: {auth_dir}\n")
    args = (["login", "vertex", "--file", str(key), "--config", str(config)] if form == "native"
            else ["-vertex-import", str(key), "-config", str(config)])
    done = subprocess.run([sys.executable, "-m", "quotio_gateway", *args], cwd=str(ROOT), capture_output=True,
                          text=True, timeout=30, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip().splitlines()[-1] == f"quotio-gateway: vertex login failed: {message}"
    assert sorted(p.name for p in auth_dir.iterdir()) == ["vertex-my-proj.json"]
    assert (auth_dir / "vertex-my-proj.json").read_bytes() == EXISTING
