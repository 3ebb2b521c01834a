"""The supervised legacy binary's own copy of config.yaml, and keeping it in step with the original.

The legacy binary must listen on an internal loopback port while the gateway owns the public one, so
it is started with a *derived* copy of the operator's config.yaml: the same document (comments and
key order kept, ruamel.yaml round-trip) with ``host`` forced to 127.0.0.1, ``port`` rewritten to the
internal port and ``tls.enable`` turned off (the gateway forwards plain HTTP over loopback).

Both files change while everything runs, so :class:`ConfigMirror` keeps them in step by polling:

* original → derived: when the operator (or the Quotio app, or the gateway) edits config.yaml, the
  derived copy is rebuilt so legacy hot-reloads the same settings.
* derived → original: legacy persists its management-API edits (and the bcrypt hash of a plaintext
  ``remote-management.secret-key``) into the file it was started with. Those edits are copied back
  with a three-way merge: whatever legacy changed relative to the derived text the gateway last
  wrote is applied to the *current* original, key by key (nested mappings recursed, lists and
  scalars replaced whole), so concurrent operator edits to other keys survive. ``host``, ``port``
  and ``tls`` belong to the derived copy and never flow back.

The derived copy is rewritten in place (same inode): the legacy binary watches its config file with
inotify on the file itself, and an atomic rename would silently end that watch. The original is
replaced atomically (temp file, fsync, rename) with its mode kept.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from ..fileio import atomic_write
from ..tasks import cancel_and_wait

log = structlog.get_logger(__name__)

LOOPBACK_HOST = "127.0.0.1"
# Keys the derived copy owns; legacy's writes to them never reach the operator's file.
DERIVED_ONLY_KEYS = frozenset({"host", "port", "tls"})
# Where CLIProxyAPI's shipped example keeps credentials; used when there is no config.yaml at all.
DEFAULT_AUTH_DIR = "~/.cli-proxy-api"


class DerivedConfigError(ValueError):
    """config.yaml text that cannot be mirrored (not YAML, or not a mapping at the top)."""


@dataclass(frozen=True)
class _Layout:
    mapping: int = 2
    sequence: int = 2
    offset: int = 0


def _guess_layout(text: str) -> _Layout:
    """Indentation of the operator's file, so rewriting it does not reflow every list."""
    mapping_indent: int | None = None
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(stripped)
        if indent and not stripped.startswith("- "):
            mapping_indent = indent if mapping_indent is None else min(mapping_indent, indent)
    # Find how a block sequence under a key is indented: "key:\n  - item" has offset 2.
    offset = 0
    lines = text.splitlines()
    for previous, line in itertools.pairwise(lines):
        stripped = line.lstrip(" ")
        if stripped.startswith("- ") and previous.rstrip().endswith(":"):
            parent_indent = len(previous) - len(previous.lstrip(" "))
            offset = max(0, len(line) - len(stripped) - parent_indent)
            break
    mapping = mapping_indent or 2
    return _Layout(mapping=mapping, sequence=max(mapping, offset + 2), offset=offset)


def _yaml(layout: _Layout | None = None) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    # Long API keys and URLs must not be folded onto continuation lines.
    yaml.width = 4096
    layout = layout or _Layout()
    yaml.indent(mapping=layout.mapping, sequence=layout.sequence, offset=layout.offset)
    return yaml


def parse_config(text: str) -> CommentedMap:
    """Round-trip parse; an empty document is an empty mapping."""
    try:
        data = _yaml().load(text)
    except YAMLError as exc:
        raise DerivedConfigError(f"config is not valid YAML: {exc}") from exc
    if data is None:
        return CommentedMap()
    if not isinstance(data, CommentedMap):
        raise DerivedConfigError("config must be a YAML mapping at the top level")
    return data


def _dump(data: CommentedMap, layout: _Layout) -> str:
    buffer = io.StringIO()
    _yaml(layout).dump(data, buffer)
    return buffer.getvalue()


def _force(data: CommentedMap, key: str, value: Any, position: int) -> None:
    if key in data:
        data[key] = value
    else:
        data.insert(min(position, len(data)), key, value)


def build_derived(original_text: str | None, port: int) -> str:
    """The derived config text for legacy: the original with host, port and TLS rewritten.

    ``None`` (no config.yaml) gives a minimal document the binary can start with.
    """
    if original_text is None:
        minimal = CommentedMap()
        minimal["host"] = LOOPBACK_HOST
        minimal["port"] = port
        minimal["auth-dir"] = DEFAULT_AUTH_DIR
        return _dump(minimal, _Layout())
    data = parse_config(original_text)
    _force(data, "host", LOOPBACK_HOST, 0)
    _force(data, "port", port, 1)
    tls = data.get("tls")
    if isinstance(tls, CommentedMap) and tls.get("enable"):
        tls["enable"] = False
    return _dump(data, _guess_layout(original_text))


def _plain(value: Any) -> Any:
    """Comparable plain data (mapping order and ruamel scalar subclasses do not count as changes)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


_MISSING = object()


def _merge(target: CommentedMap, base: Mapping[Any, Any], new: CommentedMap, skip: frozenset[str],
           changes: list[str], prefix: str = "") -> None:
    """Apply to ``target`` what changed from ``base`` to ``new``; dotted key paths go to ``changes``."""
    for key, value in new.items():
        if key in skip:
            continue
        before = base.get(key, _MISSING)
        if before is not _MISSING and _plain(before) == _plain(value):
            continue
        current = target.get(key, _MISSING)
        if current is not _MISSING and _plain(current) == _plain(value):
            continue
        if isinstance(value, CommentedMap) and isinstance(current, CommentedMap) and isinstance(
                before, Mapping):
            _merge(current, before, value, frozenset(), changes, f"{prefix}{key}.")
        else:
            target[key] = value
            changes.append(f"{prefix}{key}")
    for key in base:
        if key in skip or key in new or key not in target:
            continue
        del target[key]
        changes.append(f"{prefix}{key}")


def merge_back(original_text: str, base_text: str, derived_text: str,
               changes: list[str] | None = None) -> str | None:
    """The original with legacy's own edits applied, or None when legacy changed nothing that flows back.

    ``base_text`` is the derived text the gateway last wrote (what legacy started from);
    ``derived_text`` is what legacy wrote since. The dotted paths of the keys applied are appended to
    ``changes`` when given.
    """
    original = parse_config(original_text)
    base = parse_config(base_text)
    new = parse_config(derived_text)
    applied: list[str] = []
    _merge(original, base, new, DERIVED_ONLY_KEYS, applied)
    if changes is not None:
        changes.extend(applied)
    if not applied:
        return None
    return _dump(original, _guess_layout(original_text))


def write_in_place(path: Path, text: str) -> None:
    """Rewrite ``path`` keeping its inode, so an inotify watch on the file itself keeps working."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


class _Settle:
    """Reports a file's new content only once it has stayed the same for ``settle`` seconds.

    Writers truncate then write (the legacy binary does), so a read can catch half a file.
    """

    def __init__(self, settle: float) -> None:
        self.settle = settle
        self._text: str | None = None
        self._since = 0.0

    def ready(self, text: str, now: float) -> bool:
        if text != self._text:
            self._text = text
            self._since = now
            return self.settle <= 0
        return now - self._since >= self.settle


class ConfigMirror:
    """Keeps the derived copy and the operator's config.yaml in step (see the module docstring)."""

    def __init__(self, original: Path | None, derived: Path, port: int, *, poll_interval: float = 0.25,
                 settle: float = 0.2) -> None:
        self.original = original
        self.derived = derived
        self.port = port
        self.poll_interval = poll_interval
        self._lock = threading.Lock()
        # Text of the original last turned into a derived copy (or written by a merge).
        self._original_seen: str | None = None
        # Last parseable derived text the gateway wrote or accepted: the base of the three-way merge.
        self._derived_base = ""
        # Last derived text looked at, good or not, so a broken file is reported once.
        self._derived_seen = ""
        self._original_settle = _Settle(settle)
        self._derived_settle = _Settle(settle)
        self._task: asyncio.Task[None] | None = None

    def write_initial(self) -> None:
        """Write the derived copy from the original as it is now (before the binary starts)."""
        with self._lock:
            original_text = _read(self.original) if self.original else None
            try:
                text = build_derived(original_text, self.port)
            except DerivedConfigError as exc:
                raise DerivedConfigError(f"{self.original}: {exc}") from exc
            self.derived.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.derived, text)
            self._original_seen = original_text
            self._derived_base = self._derived_seen = text

    def sync_once(self, *, force: bool = False) -> None:
        """One polling pass. ``force`` skips the settle delay (final flush at shutdown, tests).

        Legacy's edits are handled first and hold back any rebuild until they are merged, so a
        rebuild from the original never overwrites an edit legacy has not had copied back yet.
        """
        with self._lock:
            now = time.monotonic()
            derived_text = _read(self.derived)
            if derived_text is None:
                log.warning("legacy.config.derived_missing", path=str(self.derived))
                self._rebuild(_read(self.original) if self.original else None, force_write=True)
                return
            if derived_text != self._derived_seen:
                if not (force or self._derived_settle.ready(derived_text, now)):
                    return
                if not derived_text.strip():
                    log.warning("legacy.config.derived_empty", path=str(self.derived))
                    self._rebuild(_read(self.original) if self.original else None, force_write=True)
                    return
                self._flow_back(derived_text)
            if self.original is None:
                return
            original_text = _read(self.original)
            if original_text is None or original_text == self._original_seen:
                return
            if force or self._original_settle.ready(original_text, now):
                self._rebuild(original_text, force_write=False)

    def _flow_back(self, derived_text: str) -> None:
        self._derived_seen = derived_text
        try:
            parse_config(derived_text)
        except DerivedConfigError as exc:
            # Hand-broken, or caught mid-write: the base stays, so legacy's next good write merges whole.
            log.warning("legacy.config.derived_unreadable", path=str(self.derived), error=str(exc))
            return
        original_text = _read(self.original) if self.original else None
        if original_text is not None and self.original is not None:
            changes: list[str] = []
            try:
                merged = merge_back(original_text, self._derived_base, derived_text, changes)
            except DerivedConfigError as exc:
                log.warning("legacy.config.original_unreadable", path=str(self.original), error=str(exc))
                merged = None
            if merged is not None:
                atomic_write(self.original, merged)
                # Legacy already runs with everything in the merge, unless the operator's edits
                # were still waiting for a rebuild: then the rebuild carries both.
                if original_text == self._original_seen:
                    self._original_seen = merged
                log.info("legacy.config.flowed_back", path=str(self.original), keys=changes)
        self._derived_base = derived_text

    def _rebuild(self, original_text: str | None, *, force_write: bool) -> None:
        self._original_seen = original_text
        try:
            text = build_derived(original_text, self.port)
        except DerivedConfigError as exc:
            # Keep legacy on its last good settings; the operator's next save is tried again.
            log.warning("legacy.config.original_unreadable", path=str(self.original), error=str(exc))
            return
        if force_write or text != _read(self.derived):
            write_in_place(self.derived, text)
            log.info("legacy.config.derived_updated", path=str(self.derived))
        self._derived_base = self._derived_seen = text

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="legacy-config-mirror")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                await asyncio.to_thread(self.sync_once)
            except OSError as exc:
                log.warning("legacy.config.sync_failed", error=str(exc))

    async def stop(self) -> None:
        """Stop polling after one last pass, so an edit legacy made just before exiting is kept."""
        if self._task is None:
            return
        await cancel_and_wait(self._task)
        self._task = None
        try:
            await asyncio.to_thread(self.sync_once, force=True)
        except OSError as exc:
            log.warning("legacy.config.sync_failed", error=str(exc))
