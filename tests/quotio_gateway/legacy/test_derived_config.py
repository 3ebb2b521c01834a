"""Derived config for the legacy binary: building it, and mirroring edits both ways."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from structlog.testing import capture_logs

from quotio_gateway.fileio import atomic_write
from quotio_gateway.legacy.derived_config import (
    ConfigMirror,
    DerivedConfigError,
    build_derived,
    merge_back,
    write_in_place,
)

# Shaped like the file the Quotio app writes, plus comments an operator added.
ORIGINAL = """\
# Operator notes: keep this first line
host: "0.0.0.0"
port: 8317  # public port
auth-dir: "/home/u/.cli-proxy-api"
proxy-url: ""
api-keys:
  - "quotio-local-abc"
remote-management:
  allow-remote: false  # loopback only
  secret-key: "plain-management-key"
debug: false
routing:
  strategy: "round-robin"
# Custom Providers (managed by Quotio)
openai-compatibility:
  - name: "x"
    base-url: "https://example.com/v1"
"""


def _data(text: str) -> dict[str, object]:
    loaded = yaml.safe_load(text)
    assert isinstance(loaded, dict)
    return loaded


def test_derived_rewrites_host_and_port_and_keeps_comments() -> None:
    derived = build_derived(ORIGINAL, 18317)
    data = _data(derived)
    assert data["host"] == "127.0.0.1"
    assert data["port"] == 18317
    assert derived.startswith("# Operator notes: keep this first line\n")
    assert "# public port" in derived
    assert "allow-remote: false  # loopback only" in derived
    assert "# Custom Providers (managed by Quotio)\n" in derived
    # Everything else is the operator's document unchanged, quotes and list indentation included.
    untouched = [line for line in ORIGINAL.splitlines() if not line.startswith(("host:", "port:"))]
    assert [line for line in derived.splitlines() if not line.startswith(("host:", "port:"))] == untouched


def test_derived_adds_missing_host_and_port_first() -> None:
    derived = build_derived("# only a comment\ndebug: true\n", 20000)
    assert list(_data(derived)) == ["host", "port", "debug"]
    assert _data(derived) == {"host": "127.0.0.1", "port": 20000, "debug": True}


def test_derived_turns_tls_off() -> None:
    derived = build_derived("port: 8317\ntls:\n  enable: true\n  cert: /c.pem\n  key: /k.pem\n", 18317)
    assert _data(derived)["tls"] == {"enable": False, "cert": "/c.pem", "key": "/k.pem"}


def test_derived_without_original_is_minimal() -> None:
    assert build_derived(None, 18317) == "host: 127.0.0.1\nport: 18317\nauth-dir: ~/.cli-proxy-api\n"


def test_empty_original_gives_host_and_port() -> None:
    assert _data(build_derived("", 1234)) == {"host": "127.0.0.1", "port": 1234}


def test_invalid_original_is_rejected() -> None:
    with pytest.raises(DerivedConfigError, match=r"^config is not valid YAML: "):
        build_derived("port: [8317\n", 18317)
    with pytest.raises(DerivedConfigError, match=r"^config must be a YAML mapping at the top level$"):
        build_derived("- a\n- b\n", 18317)


def test_merge_back_applies_legacy_edits_and_keeps_comments() -> None:
    base = build_derived(ORIGINAL, 18317)
    legacy = (base.replace('"plain-management-key"', "$2a$10$hashedvalue")
              .replace("debug: false", "debug: true")
              + "usage-statistics-enabled: true\n")
    changes: list[str] = []
    merged = merge_back(ORIGINAL, base, legacy, changes)
    assert merged is not None
    assert changes == ["remote-management.secret-key", "debug", "usage-statistics-enabled"]
    data = _data(merged)
    assert data["remote-management"] == {"allow-remote": False, "secret-key": "$2a$10$hashedvalue"}
    assert data["debug"] is True
    assert data["usage-statistics-enabled"] is True
    # The operator's host and port stay; the internal ones never flow back.
    assert data["host"] == "0.0.0.0"
    assert data["port"] == 8317
    assert "# Operator notes: keep this first line" in merged
    assert "port: 8317  # public port" in merged
    assert "allow-remote: false  # loopback only" in merged


def test_merge_back_ignores_host_port_and_tls() -> None:
    original = "host: 0.0.0.0\nport: 8317\ntls:\n  enable: true\n"
    base = build_derived(original, 18317)
    legacy = "host: 127.0.0.1\nport: 18318\ntls:\n  enable: false\n  cert: ''\n"
    assert merge_back(original, base, legacy) is None


def test_merge_back_keeps_concurrent_operator_edits() -> None:
    base = build_derived(ORIGINAL, 18317)
    operator_now = ORIGINAL.replace('strategy: "round-robin"', 'strategy: "fill-first"').replace(
        "allow-remote: false", "allow-remote: true")
    legacy = base.replace("debug: false", "debug: true")
    merged = merge_back(operator_now, base, legacy)
    assert merged is not None
    data = _data(merged)
    assert data["debug"] is True
    assert data["routing"] == {"strategy": "fill-first"}
    assert data["remote-management"] == {"allow-remote": True, "secret-key": "plain-management-key"}


def test_merge_back_removes_keys_legacy_removed() -> None:
    base = build_derived(ORIGINAL, 18317)
    legacy = base.replace('proxy-url: ""\n', "")
    changes: list[str] = []
    merged = merge_back(ORIGINAL, base, legacy, changes)
    assert merged is not None
    assert changes == ["proxy-url"]
    assert "proxy-url" not in _data(merged)


def test_merge_back_without_changes_is_none() -> None:
    base = build_derived(ORIGINAL, 18317)
    # Legacy re-serialised the same data in its own style: nothing to copy back.
    assert merge_back(ORIGINAL, base, yaml.safe_dump(_data(base))) is None


def test_atomic_write_keeps_mode_and_writes_through_symlink(tmp_path: Path) -> None:
    target = tmp_path / "real.yaml"
    target.write_text("a: 1\n")
    target.chmod(0o640)
    link = tmp_path / "config.yaml"
    link.symlink_to(target)
    atomic_write(link, "a: 2\n")
    assert link.is_symlink()
    assert target.read_text() == "a: 2\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_atomic_write_new_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "new.yaml"
    atomic_write(path, "a: 1\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_write_in_place_keeps_inode(tmp_path: Path) -> None:
    path = tmp_path / "derived.yaml"
    path.write_text("a: 1\n" * 50)
    inode = path.stat().st_ino
    write_in_place(path, "a: 2\n")
    assert path.read_text() == "a: 2\n"
    assert path.stat().st_ino == inode


def _mirror(tmp_path: Path, original: str | None = ORIGINAL, **kwargs: float) -> ConfigMirror:
    config = tmp_path / "config.yaml"
    if original is not None:
        config.write_text(original)
    mirror = ConfigMirror(config if original is not None else None, tmp_path / "state" / "legacy.yaml",
                          18317, **kwargs)
    mirror.write_initial()
    return mirror


def test_initial_derived_copy_is_private(tmp_path: Path) -> None:
    mirror = _mirror(tmp_path)
    assert mirror.derived.read_text() == build_derived(ORIGINAL, 18317)
    assert stat.S_IMODE(mirror.derived.stat().st_mode) == 0o600


def test_original_edit_propagates_to_derived_in_place(tmp_path: Path) -> None:
    mirror = _mirror(tmp_path)
    assert mirror.original is not None
    inode = mirror.derived.stat().st_ino
    edited = ORIGINAL.replace("allow-remote: false", "allow-remote: true")
    atomic_write(mirror.original, edited)
    mirror.sync_once(force=True)
    assert mirror.derived.read_text() == build_derived(edited, 18317)
    assert mirror.derived.stat().st_ino == inode
    # The rebuild is not mistaken for an edit by legacy on the next pass.
    mirror.sync_once(force=True)
    assert mirror.original.read_text() == edited


def test_legacy_edit_flows_back_to_original(tmp_path: Path) -> None:
    mirror = _mirror(tmp_path)
    assert mirror.original is not None
    legacy = mirror.derived.read_text().replace('"plain-management-key"', "$2a$10$hashedvalue")
    write_in_place(mirror.derived, legacy)
    mirror.sync_once(force=True)
    text = mirror.original.read_text()
    assert _data(text)["remote-management"] == {"allow-remote": False, "secret-key": "$2a$10$hashedvalue"}
    assert _data(text)["port"] == 8317
    assert "# Operator notes: keep this first line" in text
    # Legacy's file is left as legacy wrote it.
    assert mirror.derived.read_text() == legacy


def test_unsettled_change_waits(tmp_path: Path) -> None:
    mirror = _mirror(tmp_path, settle=60.0)
    assert mirror.original is not None
    edited = ORIGINAL.replace("debug: false", "debug: true")
    atomic_write(mirror.original, edited)
    mirror.sync_once()
    mirror.sync_once()
    assert _data(mirror.derived.read_text())["debug"] is False
    mirror.sync_once(force=True)
    assert _data(mirror.derived.read_text())["debug"] is True


def test_broken_original_keeps_last_good_derived(tmp_path: Path) -> None:
    mirror = _mirror(tmp_path)
    assert mirror.original is not None
    before = mirror.derived.read_text()
    atomic_write(mirror.original, "port: [broken\n")
    mirror.sync_once(force=True)
    assert mirror.derived.read_text() == before


def test_half_written_derived_is_skipped_then_merged_whole(tmp_path: Path) -> None:
    mirror = _mirror(tmp_path)
    assert mirror.original is not None
    complete = mirror.derived.read_text().replace("debug: false", "debug: true")
    write_in_place(mirror.derived, complete[: complete.index("debug:") + 3])
    with capture_logs() as logs:
        mirror.sync_once(force=True)
        mirror.sync_once(force=True)
    assert mirror.original.read_text() == ORIGINAL
    assert [e["event"] for e in logs] == ["legacy.config.derived_unreadable"]
    write_in_place(mirror.derived, complete)
    mirror.sync_once(force=True)
    assert _data(mirror.original.read_text())["debug"] is True


def test_pending_legacy_edit_holds_back_a_rebuild(tmp_path: Path) -> None:
    mirror = _mirror(tmp_path, settle=60.0)
    assert mirror.original is not None
    legacy = mirror.derived.read_text().replace("debug: false", "debug: true")
    write_in_place(mirror.derived, legacy)
    atomic_write(mirror.original, ORIGINAL.replace('"round-robin"', '"fill-first"'))
    mirror.sync_once()
    assert mirror.derived.read_text() == legacy
    mirror.sync_once(force=True)
    derived = _data(mirror.derived.read_text())
    original = _data(mirror.original.read_text())
    assert (derived["debug"], derived["routing"]) == (True, {"strategy": "fill-first"})
    assert (original["debug"], original["routing"]) == (True, {"strategy": "fill-first"})


def test_emptied_derived_is_rewritten(tmp_path: Path) -> None:
    mirror = _mirror(tmp_path)
    write_in_place(mirror.derived, "")
    mirror.sync_once(force=True)
    assert mirror.derived.read_text() == build_derived(ORIGINAL, 18317)


def test_deleted_derived_is_rewritten(tmp_path: Path) -> None:
    mirror = _mirror(tmp_path)
    mirror.derived.unlink()
    mirror.sync_once(force=True)
    assert mirror.derived.read_text() == build_derived(ORIGINAL, 18317)


def test_without_original_nothing_flows_back(tmp_path: Path) -> None:
    mirror = _mirror(tmp_path, original=None)
    assert mirror.derived.read_text() == build_derived(None, 18317)
    write_in_place(mirror.derived, "host: 127.0.0.1\nport: 18317\ndebug: true\n")
    mirror.sync_once(force=True)
    assert not (tmp_path / "config.yaml").exists()
    assert os.listdir(tmp_path) == ["state"]


def test_unparseable_original_at_start_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("port: [broken\n")
    mirror = ConfigMirror(config, tmp_path / "legacy.yaml", 18317)
    with pytest.raises(DerivedConfigError, match=rf"^{config}: config is not valid YAML: "):
        mirror.write_initial()


def _key(path: Path, key: str) -> object:
    """``key`` of the YAML at ``path``; None while a writer has the file truncated mid-rewrite."""
    loaded = yaml.safe_load(path.read_text())
    return loaded.get(key) if isinstance(loaded, dict) else None


async def _until(predicate: Callable[[], bool], within: float = 5.0) -> None:
    step = 0.02
    for _ in range(int(within / step)):
        if predicate():
            return
        await asyncio.sleep(step)
    raise AssertionError(f"condition not met within {within}s")


async def test_polling_mirror_follows_both_ways(tmp_path: Path) -> None:
    mirror = _mirror(tmp_path, poll_interval=0.05, settle=0.05)
    assert mirror.original is not None
    await mirror.start()
    try:
        atomic_write(mirror.original, ORIGINAL.replace("debug: false", "debug: true"))
        await _until(lambda: _key(mirror.derived, "debug") is True)
        write_in_place(mirror.derived, mirror.derived.read_text() + "request-retry: 3\n")
        await _until(lambda: _key(mirror.original, "request-retry") == 3)
    finally:
        await mirror.stop()
    assert _data(mirror.original.read_text())["debug"] is True


async def test_stop_flushes_a_last_legacy_edit(tmp_path: Path) -> None:
    mirror = _mirror(tmp_path, poll_interval=60.0)
    assert mirror.original is not None
    await mirror.start()
    write_in_place(mirror.derived, mirror.derived.read_text().replace("debug: false", "debug: true"))
    await mirror.stop()
    assert _data(mirror.original.read_text())["debug"] is True
