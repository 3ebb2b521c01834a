"""PostgreSQL token store (PGSTORE_DSN), on the table layout of CLIProxyAPI's internal/store/postgresstore.go.

Rows live in ``auth_store`` (``id`` TEXT primary key = the credential's file name, ``content`` JSONB,
``created_at``/``updated_at`` TIMESTAMPTZ), inside PGSTORE_SCHEMA when set, so a database shared
with CLIProxyAPI reads the same rows. ``config_store`` is created alongside, as Go does, so either
program can bootstrap an empty database.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from handlers.auth.credential import Credential, CredentialError, content_digest, parse_credential, validate_file_name
from handlers.auth.stores import LoadResult, RetryPolicy, StoreConflict, StoreUnavailable, TokenStore, skip_bad

AUTH_TABLE = "auth_store"
CONFIG_TABLE = "config_store"

# Failures that a reconnect may cure; anything else (bad SQL, permissions) is raised as is.
TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
)


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def revision_of(content_text: str) -> str:
    # JSONB has one canonical text form, so its digest changes exactly when the stored value does.
    return content_digest(content_text.encode("utf-8"))


class PostgresTokenStore(TokenStore):
    kind = "postgres"

    def __init__(self, dsn: str, *, schema: str = "", retry: RetryPolicy | None = None,
                 connect_timeout: float = 5.0) -> None:
        super().__init__(retry)
        self._dsn = dsn
        self.schema = schema.strip()
        self._connect_timeout = connect_timeout
        self._pool: asyncpg.Pool | None = None

    def table(self, name: str) -> str:
        if self.schema:
            return f"{quote_identifier(self.schema)}.{quote_identifier(name)}"
        return quote_identifier(name)

    async def start(self) -> None:
        async def connect() -> None:
            pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=4, timeout=self._connect_timeout)
            try:
                await self._ensure_schema(pool)
            except BaseException:
                await pool.close()
                raise
            self._pool = pool

        try:
            await self._retrying("connect", connect, TRANSIENT)
        except ValueError:
            # asyncpg's DSN parser quotes the DSN, password included, in its messages.
            raise StoreUnavailable("postgres store: PGSTORE_DSN is not a valid connection string") from None

    async def _ensure_schema(self, pool: asyncpg.Pool) -> None:
        async with pool.acquire() as conn:
            if self.schema:
                await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(self.schema)}")
            await conn.execute(f"""
                CREATE TABLE IF NOT EXISTS {self.table(CONFIG_TABLE)} (
                    id TEXT PRIMARY KEY,
                    content TEXT NOT NULL,
                    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
                    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
                )""")
            await conn.execute(f"""
                CREATE TABLE IF NOT EXISTS {self.table(AUTH_TABLE)} (
                    id TEXT PRIMARY KEY,
                    content JSONB NOT NULL,
                    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
                    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
                )""")

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), timeout=5)
            except (TimeoutError, *TRANSIENT):
                pool.terminate()

    def _require_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreUnavailable("postgres store: not started")
        return self._pool

    async def _fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        async def run() -> list[asyncpg.Record]:
            return await self._require_pool().fetch(query, *args, timeout=self._connect_timeout * 2)

        return await self._retrying("query", run, TRANSIENT)

    async def load_all(self) -> LoadResult:
        rows = await self._fetch(f"SELECT id, content::text AS body FROM {self.table(AUTH_TABLE)} ORDER BY id")
        result = LoadResult()
        for row in rows:
            try:
                credential = parse_credential(row["id"], row["body"].encode("utf-8"), revision_of(row["body"]))
            except CredentialError as err:
                skip_bad(result, err, self.kind)
                continue
            result.credentials[credential.file_name] = credential
        return result

    async def get(self, file_name: str) -> Credential | None:
        validate_file_name(file_name)
        rows = await self._fetch(f"SELECT content::text AS body FROM {self.table(AUTH_TABLE)} WHERE id = $1",
                                 file_name)
        if not rows:
            return None
        body = rows[0]["body"]
        return parse_credential(file_name, body.encode("utf-8"), revision_of(body))

    async def save(self, credential: Credential, *, if_revision: str | None = None) -> Credential:
        validate_file_name(credential.file_name)
        payload = credential.to_bytes().decode("utf-8")
        table = self.table(AUTH_TABLE)

        async def run() -> str:
            # One transaction: the row is either the old value or the new one, never a mix, and a
            # dropped connection rolls the whole write back.
            async with self._require_pool().acquire() as conn, conn.transaction():
                if if_revision is not None:
                    current = await conn.fetchval(
                        f"SELECT content::text FROM {table} WHERE id = $1 FOR UPDATE", credential.file_name)
                    if current is None or revision_of(current) != if_revision:
                        raise StoreConflict(credential.file_name)
                return await conn.fetchval(
                    f"""INSERT INTO {table} (id, content, created_at, updated_at)
                        VALUES ($1, $2::jsonb, NOW(), NOW())
                        ON CONFLICT (id) DO UPDATE SET content = EXCLUDED.content, updated_at = NOW()
                        RETURNING content::text""",
                    credential.file_name, payload)

        stored = await self._retrying("save", run, TRANSIENT)
        return credential.with_revision(revision_of(stored))

    async def delete(self, file_name: str) -> bool:
        validate_file_name(file_name)
        rows = await self._fetch(f"DELETE FROM {self.table(AUTH_TABLE)} WHERE id = $1 RETURNING id", file_name)
        return bool(rows)
