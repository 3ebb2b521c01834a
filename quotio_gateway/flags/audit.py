"""Append-only audit trail of flag-table changes (who, when, old → new) in the state database."""

from __future__ import annotations

import time
from typing import Any

import orjson

from ..state import StateDB
from .schema import FlagTable


def _route_key(route: dict[str, Any]) -> str:
    model = route.get("model")
    return f"route {route['match']}" + (f" [{model}]" if model else "")


def diff_tables(old: FlagTable | None, new: FlagTable) -> list[dict[str, Any]]:
    """What changed between two tables, one entry per top-level setting or route."""
    new_doc = new.model_dump(mode="json")
    old_doc = old.model_dump(mode="json") if old is not None else {}
    changes: list[dict[str, Any]] = []
    for key in ("default", "legacy", "shadow", "server", "version"):
        if old_doc.get(key) != new_doc.get(key):
            changes.append({"item": key, "old": old_doc.get(key), "new": new_doc.get(key)})
    old_routes = {_route_key(r): r for r in old_doc.get("routes", [])}
    new_routes = {_route_key(r): r for r in new_doc.get("routes", [])}
    for key, route in new_routes.items():
        if old_routes.get(key) != route:
            changes.append({"item": key, "old": old_routes.get(key), "new": route})
    for key, route in old_routes.items():
        if key not in new_routes:
            changes.append({"item": key, "old": route, "new": None})
    return changes


class FlagAudit:
    def __init__(self, db: StateDB) -> None:
        self.db = db

    async def record(self, *, actor: str, source: str, version: int, changes: list[dict[str, Any]],
                     table: FlagTable) -> None:
        payload = {"changes": changes, "table": table.model_dump(mode="json")}
        await self.db.execute(
            "INSERT INTO flag_audit (ts, actor, source, version, changes) VALUES (?, ?, ?, ?, ?)",
            (time.time(), actor, source, version, orjson.dumps(payload).decode()))

    async def last(self) -> tuple[int, dict[str, Any] | None]:
        rows = await self.db.fetchall("SELECT version, changes FROM flag_audit ORDER BY id DESC LIMIT 1")
        if not rows:
            return 0, None
        return int(rows[0]["version"]), orjson.loads(rows[0]["changes"]).get("table")

    async def entries(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = await self.db.fetchall(
            "SELECT id, ts, actor, source, version, changes FROM flag_audit ORDER BY id DESC LIMIT ?", (limit,))
        out = []
        for row in rows:
            payload = orjson.loads(row["changes"])
            out.append({
                "id": row["id"],
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(row["ts"])),
                "actor": row["actor"],
                "source": row["source"],
                "version": row["version"],
                "changes": payload.get("changes", []),
            })
        return out
