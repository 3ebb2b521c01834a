"""PostgreSQL store specifics: CLIProxyAPI's table layout, and the database vanishing at start and mid-run."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
import pytest

from handlers.auth.credential import new_credential
from handlers.auth.stores import StoreUnavailable
from handlers.auth.stores.postgres_store import PostgresTokenStore, quote_identifier
from tests.handlers.auth.conftest import FAST_RETRY, PG_DSN, StoreFactory, TcpRelay, free_port

ANN = "claude-ann@example.com.json"


async def test_rows_use_cliproxyapi_table_layout_in_the_configured_schema(postgres_factory: StoreFactory) -> None:
    store = await postgres_factory.open()
    await store.save(new_credential(ANN, {"type": "claude", "email": "ann@example.com", "n": 1}))
    conn = await asyncpg.connect(PG_DSN)
    try:
        columns = await conn.fetch(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = $1 ORDER BY table_name, ordinal_position", postgres_factory.pg_schema)
        row = await conn.fetchrow(
            f'SELECT id, content::text AS body FROM "{postgres_factory.pg_schema}".auth_store')
    finally:
        await conn.close()
    assert [tuple(c) for c in columns] == [
        ("auth_store", "id", "text"), ("auth_store", "content", "jsonb"),
        ("auth_store", "created_at", "timestamp with time zone"),
        ("auth_store", "updated_at", "timestamp with time zone"),
        ("config_store", "id", "text"), ("config_store", "content", "text"),
        ("config_store", "created_at", "timestamp with time zone"),
        ("config_store", "updated_at", "timestamp with time zone"),
    ]
    assert row["id"] == ANN
    assert row["body"] == '{"n": 1, "type": "claude", "email": "ann@example.com"}'


def test_identifiers_are_quoted() -> None:
    assert quote_identifier('we"ird') == '"we""ird"'
    assert PostgresTokenStore("postgresql://x", schema="s").table("auth_store") == '"s"."auth_store"'
    assert PostgresTokenStore("postgresql://x").table("auth_store") == '"auth_store"'


async def test_unreachable_at_start_is_a_clear_error_without_the_password() -> None:
    port = free_port()
    store = PostgresTokenStore(f"postgresql://postgres:hunter2@127.0.0.1:{port}/test", retry=FAST_RETRY)
    with pytest.raises(StoreUnavailable) as info:
        await store.start()
    message = str(info.value)
    assert message.startswith("postgres store: connect failed after 2 attempts: ")
    assert "hunter2" not in message


async def test_malformed_dsn_is_reported_without_echoing_it() -> None:
    store = PostgresTokenStore("postgresql://postgres:hunter2@127.0.0.1:notaport/test", retry=FAST_RETRY)
    with pytest.raises(StoreUnavailable) as info:
        await store.start()
    assert str(info.value) == "postgres store: PGSTORE_DSN is not a valid connection string"
    assert info.value.__cause__ is None


async def test_database_lost_mid_run_then_back(postgres_factory: StoreFactory,
                                               relay_factory: Callable[[int], TcpRelay]) -> None:
    relay = relay_factory(5432)
    await relay.start()
    store = await postgres_factory.open(dsn=f"postgresql://postgres@127.0.0.1:{relay.port}/test")
    first = await store.save(new_credential(ANN, {"type": "claude", "access_token": "old"}))
    await relay.stop()
    with pytest.raises(StoreUnavailable) as info:
        await store.save(first.with_metadata(access_token="new"), if_revision=first.revision)
    assert str(info.value).startswith("postgres store: save failed after 2 attempts: ")
    with pytest.raises(StoreUnavailable):
        await store.get(ANN)
    await relay.start()
    again = await store.get(ANN)
    assert again is not None
    assert (again.metadata["access_token"], again.revision) == ("old", first.revision)
    saved = await store.save(again.with_metadata(access_token="new"), if_revision=again.revision)
    assert (await store.get(ANN)).revision == saved.revision
