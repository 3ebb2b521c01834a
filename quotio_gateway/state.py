"""The gateway's own durable state: one SQLite file (flag audit trail, shadow mismatch samples).

WAL journaling with synchronous=FULL means a kill -9 in the middle of a write leaves either the
old row set or the new one, never half a row.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiosqlite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS flag_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    actor TEXT NOT NULL,
    source TEXT NOT NULL,
    version INTEGER NOT NULL,
    changes TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS shadow_samples (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    route TEXT NOT NULL,
    request_id TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    outcome TEXT NOT NULL,
    comparator TEXT NOT NULL,
    diff TEXT NOT NULL,
    legacy TEXT NOT NULL,
    native TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS shadow_samples_route ON shadow_samples(route, id);
"""


class StateDB:
    """A single aiosqlite connection; statements are serialised by a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = await aiosqlite.connect(self.path)
        self._db.row_factory = aiosqlite.Row
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute("PRAGMA synchronous=FULL")
        await self._db.executescript(_SCHEMA)
        await self._db.commit()

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("StateDB is not open")
        return self._db

    async def execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """Run one write statement in its own transaction; returns lastrowid."""
        async with self._lock:
            cursor = await self.db.execute(sql, params)
            await self.db.commit()
            return cursor.lastrowid or 0

    async def fetchall(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        async with self._lock:
            cursor = await self.db.execute(sql, params)
            rows = await cursor.fetchall()
        return [dict(row) for row in rows]
