"""The live flag table: validate-then-swap, hot reload from the file, audit, persistence.

A request takes one reference to ``current`` when it starts and keeps it, so a swap never changes
the decision of a request already in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog
from pydantic import ValidationError

from ..fileio import atomic_write
from ..filewatch import FileWatcher
from ..metrics import Metrics
from .audit import FlagAudit, diff_tables
from .loader import FlagsError, dump_flags_yaml, parse_flags_yaml, validate_flags
from .matcher import CompiledTable
from .schema import FlagTable, Route

log = structlog.get_logger("quotio_gateway.flags")

Listener = Callable[[CompiledTable, CompiledTable], None]


class FlagStore:
    def __init__(self, table: FlagTable, *, path: Path | None, persist_path: Path | None,
                 audit: FlagAudit | None, metrics: Metrics | None) -> None:
        self.path = path
        self.persist_path = persist_path
        self.audit = audit
        self.metrics = metrics
        self.current = CompiledTable.build(table, 1)
        self._lock = asyncio.Lock()
        self._listeners: list[Listener] = []
        self._watcher = FileWatcher(path, self._on_file_change) if path is not None else None
        self.last_error: str | None = None

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def start(self) -> None:
        """Number this table after the last audited one; audit it when it differs."""
        if self.audit is not None:
            last_version, last_table = await self.audit.last()
            table = self.current.table
            if last_table is None or last_table != table.model_dump(mode="json"):
                old = validate_flags(last_table, "audit") if last_table is not None else None
                version = last_version + 1
                await self.audit.record(actor="gateway", source="startup", version=version,
                                        changes=diff_tables(old, table), table=table)
            else:
                version = last_version
            self.current = CompiledTable.build(table, max(version, 1))
        self._publish()
        if self._watcher is not None:
            await self._watcher.start()

    async def stop(self) -> None:
        if self._watcher is not None:
            await self._watcher.stop()

    def _publish(self) -> None:
        if self.metrics is not None:
            self.metrics.flags_version.set(self.current.version)
            self.metrics.set_route_modes(self.current.route_labels())

    async def _on_file_change(self, data: bytes) -> None:
        source = str(self.path)
        try:
            table = parse_flags_yaml(data, source)
        except FlagsError as exc:
            self.last_error = str(exc)
            log.error("flags reload rejected, keeping the last good table", error=str(exc))
            if self.metrics is not None:
                self.metrics.config_reloads.labels(file="flags", result="failure").inc()
            return
        await self.replace(table, actor=f"file:{source}", source="file", persist=False)
        if self.metrics is not None:
            self.metrics.config_reloads.labels(file="flags", result="success").inc()

    async def replace(self, table: FlagTable, *, actor: str, source: str, persist: bool = True
                      ) -> CompiledTable:
        async with self._lock:
            old = self.current
            changes = diff_tables(old.table, table)
            if not changes:
                return old
            new = CompiledTable.build(table, old.version + 1)
            if persist and self.persist_path is not None:
                data = dump_flags_yaml(table)
                await asyncio.to_thread(atomic_write, self.persist_path, data)
                if self._watcher is not None and self.persist_path == self.path:
                    self._watcher.remember(data)
            if self.audit is not None:
                await self.audit.record(actor=actor, source=source, version=new.version, changes=changes,
                                        table=table)
            self.current = new
            self.last_error = None
            self._publish()
            log.info("flag table changed", version=new.version, actor=actor, source=source,
                     changes=[c["item"] for c in changes])
            for listener in self._listeners:
                listener(old, new)
            return new

    async def replace_document(self, doc: Any, *, actor: str) -> CompiledTable:
        return await self.replace(validate_flags(doc, "request body"), actor=actor, source="api")

    async def patch_route(self, patch: Any, *, actor: str) -> CompiledTable:
        """Change (or add, or with ``"remove": true`` drop) the route named by ``match`` (+ ``model``)."""
        if not isinstance(patch, dict) or "match" not in patch:
            raise FlagsError("request body", "match", 'a route patch needs "match"')
        patch = dict(patch)
        remove = bool(patch.pop("remove", False))
        try:
            probe = Route.model_validate({"match": patch["match"], "mode": "legacy"})
        except ValidationError as exc:
            # The same 400 a whole-table PUT gives for this match, not an unhandled error.
            first = exc.errors()[0]
            raise FlagsError("request body", "match", first["msg"].removeprefix("Value error, ")) from None
        model = patch.get("model")
        doc = self.current.table.model_dump(mode="json", exclude_unset=True)
        routes: list[dict[str, Any]] = doc.setdefault("routes", [])
        same_match = [i for i, r in enumerate(routes)
                      if Route.model_validate({**r, "mode": r.get("mode", "legacy")}).match == probe.match]
        index = next((i for i in same_match if routes[i].get("model") == model), None)
        if remove:
            if index is None:
                raise FlagsError("request body", "match", f"no route {probe.match!r} to remove")
            routes.pop(index)
        elif index is None:
            # First match wins: a new model-conditioned route appended below the same match without
            # a model would never be reached, so it goes just above that catch-all.
            catch_all = next((i for i in same_match if not routes[i].get("model")), None)
            if model and catch_all is not None:
                routes.insert(catch_all, patch)
            else:
                routes.append(patch)
        else:
            routes[index] = {**routes[index], **patch}
        return await self.replace(validate_flags(doc, "request body"), actor=actor, source="api")
