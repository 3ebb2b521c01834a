"""How long the credential runtime takes to load a large auth-dir at start-up (issue 5).

    python benchmarks/credentials_load.py [--count 1000] [--repeat 5]

Writes ``--count`` credential files of every servable provider type into a fresh temporary
auth-dir (the shapes CLIProxyAPI writes; one in ten Gemini files lists three projects, so
virtual credentials are part of the work), then times ``CredentialRuntime.start()`` end to
end: listing and parsing the files, building the in-memory views, starting the watcher and
registering every credential's models in the live model registry. Reports the best and median of
``--repeat`` fresh starts against the issue's target of under one second, and exits non-zero when
the median misses it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from handlers.auth.stores.file_store import FileTokenStore
from handlers.credentials import CredentialRuntime
from handlers.models.registry import LiveModelRegistry
from handlers.providers.http import UpstreamClient
from quotio_gateway.config.store import ConfigStore

TARGET_SECONDS = 1.0
README = Path(__file__).resolve().parent / "README.md"
README_BEGIN = "<!-- credentials-results:begin (written by benchmarks/credentials_load.py) -->"
README_END = "<!-- credentials-results:end -->"
EXPIRED = "2030-01-01T00:00:00Z"


def credential_file(index: int) -> tuple[str, dict[str, object]]:
    """One plausible credential file; the token values are fake and never leave this process."""
    kind = index % 9
    email = f"user{index}@example.test"
    if kind == 0:
        projects = f"proj-{index}-a,proj-{index}-b,proj-{index}-c" if index % 10 == 0 else f"proj-{index}"
        return f"{email}-{index}.json", {"type": "gemini", "email": email, "project_id": projects,
                                         "token": {"access_token": f"ya29.{index}", "expiry": EXPIRED}}
    if kind == 1:
        return f"claude-{email}.json", {"type": "claude", "email": email, "access_token": f"sk-ant-oat-{index}",
                                        "refresh_token": f"rt-{index}", "expired": EXPIRED}
    if kind == 2:
        return f"codex-{email}.json", {"type": "codex", "email": email, "access_token": f"eyJ{index}",
                                       "account_id": f"acc-{index}", "expired": EXPIRED}
    if kind == 3:
        return f"qwen-{email}.json", {"type": "qwen", "email": email, "access_token": f"q{index}",
                                      "resource_url": "portal.qwen.ai", "expired": EXPIRED}
    if kind == 4:
        return f"iflow-{email}-{index}.json", {"type": "iflow", "email": email, "api_key": f"sk-{index}",
                                               "expired": "2030-01-01 00:00"}
    if kind == 5:
        return f"antigravity-user{index}.json", {"type": "antigravity", "email": email, "access_token": f"ya{index}",
                                                 "project_id": f"p-{index}", "expired": EXPIRED}
    if kind == 6:
        return f"github-copilot-user{index}.json", {"type": "github-copilot", "username": f"user{index}",
                                                    "access_token": f"gho_{index}"}
    if kind == 7:
        return f"kiro-google-{index}.json", {"type": "kiro", "access_token": f"aoa{index}", "auth_method": "social",
                                             "profile_arn": f"arn:aws:codewhisperer:us-east-1:1:profile/{index}",
                                             "expires_at": EXPIRED}
    return f"vertex-proj-{index}.json", {"type": "vertex", "project_id": f"proj-{index}", "location": "us-central1",
                                         "email": email, "service_account": {"type": "service_account",
                                                                             "project_id": f"proj-{index}"}}


def populate(auth_dir: Path, count: int) -> None:
    for index in range(count):
        name, payload = credential_file(index)
        (auth_dir / name).write_text(json.dumps(payload))


async def one_start(auth_dir: Path) -> tuple[float, int, int]:
    client = UpstreamClient()
    registry = LiveModelRegistry(ConfigStore(None))
    runtime = CredentialRuntime(FileTokenStore(auth_dir), client, registry=registry)
    started = time.perf_counter()
    result = await runtime.start()
    elapsed = time.perf_counter() - started
    views = len(runtime.credentials())
    await runtime.stop()
    await client.close()
    return elapsed, len(result.credentials), views


async def main_async(count: int, repeat: int, *, write_readme: bool = True) -> int:
    with tempfile.TemporaryDirectory(prefix="quotio-credbench-") as tmp:
        auth_dir = Path(tmp)
        populate(auth_dir, count)
        runs = [await one_start(auth_dir) for _ in range(repeat)]
    times = [run[0] for run in runs]
    files, views = runs[0][1], runs[0][2]
    median = statistics.median(times)
    verdict = "ok" if median < TARGET_SECONDS else "MISSED"
    table = ("| credential files | views | best (s) | median (s) | target (s) | verdict |\n"
             "|---|---|---|---|---|---|\n"
             f"| {files} | {views} | {min(times):.3f} | {median:.3f} | < {TARGET_SECONDS:g} | {verdict} |\n")
    print(table, end="")
    if write_readme and README.exists() and README_BEGIN in README.read_text():
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        block = (f"Measured {stamp} on {os.cpu_count()} CPUs, {repeat} fresh starts, by:\n\n"
                 f"    python benchmarks/credentials_load.py --count {count} --repeat {repeat}\n\n{table}")
        README.write_text(splice_readme(README.read_text(), block))
    return 0 if median < TARGET_SECONDS else 1


def splice_readme(readme: str, block: str) -> str:
    """Replace what lies between the credential-results markers, nothing else."""
    start = readme.index(README_BEGIN) + len(README_BEGIN)
    end = readme.index(README_END, start)
    return readme[:start] + "\n" + block + readme[end:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-readme", action="store_true", help="leave benchmarks/README.md alone")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main_async(args.count, args.repeat, write_readme=not args.no_readme)))


if __name__ == "__main__":
    main()
