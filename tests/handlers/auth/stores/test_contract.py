"""The one contract every token store passes: file, PostgreSQL, Git and S3 object storage, all real."""

from __future__ import annotations

import asyncio

import pytest

from handlers.auth.credential import Credential, CredentialError, new_credential
from handlers.auth.stores import StoreConflict, TokenStore
from tests.handlers.auth.conftest import StoreFactory


def claude(name: str = "claude-ann@example.com.json", **extra: object) -> Credential:
    return new_credential(name, {
        "type": "claude", "email": "ann@example.com", "access_token": "at-1", "refresh_token": "rt-1",
        "expired": "2030-01-02T03:04:05Z", "quotio_extra": {"kept": True}, **extra,
    })


async def test_create_then_read_round_trips_every_key(factory: StoreFactory) -> None:
    store = await factory.open()
    saved = await store.save(claude())
    assert saved.revision
    got = await store.get("claude-ann@example.com.json")
    assert got is not None
    assert got.metadata == claude().metadata
    assert (got.provider, got.email, got.revision) == ("claude", "ann@example.com", saved.revision)
    assert await store.get("claude-nobody.json") is None


async def test_update_with_revision_changes_content_and_revision(factory: StoreFactory) -> None:
    store = await factory.open()
    first = await store.save(claude())
    refreshed = first.with_metadata(access_token="at-2", expired="2031-01-01T00:00:00Z")
    second = await store.save(refreshed, if_revision=first.revision)
    assert second.revision != first.revision
    got = await store.get(first.file_name)
    assert got is not None
    assert got.metadata["access_token"] == "at-2"
    assert got.metadata["quotio_extra"] == {"kept": True}
    assert got.expiry is not None and got.expiry.year == 2031


async def test_stale_revision_is_a_conflict_and_changes_nothing(factory: StoreFactory) -> None:
    store = await factory.open()
    first = await store.save(claude())
    await store.save(first.with_metadata(access_token="at-2"), if_revision=first.revision)
    with pytest.raises(StoreConflict, match="changed by another writer"):
        await store.save(first.with_metadata(access_token="stale"), if_revision=first.revision)
    got = await store.get(first.file_name)
    assert got is not None and got.metadata["access_token"] == "at-2"


async def test_conditional_save_of_a_missing_credential_is_a_conflict(factory: StoreFactory) -> None:
    store = await factory.open()
    with pytest.raises(StoreConflict):
        await store.save(claude(), if_revision="0" * 32)
    assert await store.get(claude().file_name) is None


async def test_delete(factory: StoreFactory) -> None:
    store = await factory.open()
    await store.save(claude())
    assert await store.delete("claude-ann@example.com.json") is True
    assert await store.get("claude-ann@example.com.json") is None
    assert await store.delete("claude-ann@example.com.json") is False
    assert await store.list_names() == []


async def test_list_returns_every_credential_by_file_name(factory: StoreFactory) -> None:
    store = await factory.open()
    await store.save(claude())
    await store.save(new_credential("gemini-bob@example.com-proj.json",
                                    {"type": "gemini", "email": "bob@example.com", "project_id": "proj",
                                     "token": {"access_token": "x", "expiry": "2030-05-05T00:00:00Z"}}))
    await store.save(new_credential("codex-cy@example.com.json", {"type": "codex", "email": "cy@example.com"}))
    result = await store.load_all()
    assert sorted(result.credentials) == [
        "claude-ann@example.com.json", "codex-cy@example.com.json", "gemini-bob@example.com-proj.json"]
    assert result.credentials["gemini-bob@example.com-proj.json"].provider == "gemini-cli"
    assert result.skipped == {}


async def test_concurrent_writers_from_two_processes_all_land(factory: StoreFactory) -> None:
    one, two = await factory.open("a"), await factory.open("b")
    names = [f"qwen-user{i}.json" for i in range(12)]
    await asyncio.gather(*(
        (one if i % 2 else two).save(new_credential(name, {"type": "qwen", "email": f"user{i}", "n": i}))
        for i, name in enumerate(names)))
    for store in (one, two):
        await store.close()
    fresh = await factory.open("c")
    result = await fresh.load_all()
    assert sorted(result.credentials) == sorted(names)
    assert {c.metadata["n"] for c in result.credentials.values()} == set(range(12))


async def _refresh_n_times(store: TokenStore, name: str, times: int) -> int:
    conflicts = 0
    for _ in range(times):
        while True:
            current = await store.get(name)
            assert current is not None
            try:
                await store.save(current.with_metadata(counter=current.metadata["counter"] + 1),
                                 if_revision=current.revision)
                break
            except StoreConflict:
                conflicts += 1
    return conflicts


async def test_two_processes_refreshing_one_credential_lose_no_update(factory: StoreFactory) -> None:
    one, two = await factory.open("a"), await factory.open("b")
    await one.save(claude(counter=0))
    await asyncio.gather(_refresh_n_times(one, claude().file_name, 5), _refresh_n_times(two, claude().file_name, 5))
    final = await (await factory.open("c")).get(claude().file_name)
    assert final is not None
    assert final.metadata["counter"] == 10


async def test_restart_sees_everything_written_before(factory: StoreFactory) -> None:
    store = await factory.open("a")
    saved = await store.save(claude())
    await store.delete(saved.file_name)
    await store.save(claude("claude-two@example.com.json", email="two@example.com"))
    await store.close()
    again = await factory.open("a")
    result = await again.load_all()
    assert list(result.credentials) == ["claude-two@example.com.json"]
    assert result.credentials["claude-two@example.com.json"].metadata == claude(
        "claude-two@example.com.json", email="two@example.com").metadata


BAD_RECORDS = {
    "corrupt": b'{"type": "claude", "access_token": ',
    "empty": b"",
    "unknown_type": b'{"type": "cursor-pro", "email": "x@example.com"}',
    "missing_type": b'{"email": "x@example.com"}',
    "not_object": b'["claude"]',
}


@pytest.mark.parametrize("reason", sorted(BAD_RECORDS))
async def test_bad_record_is_skipped_and_the_rest_load(factory: StoreFactory, reason: str) -> None:
    if factory.kind == "postgres" and reason in {"corrupt", "empty"}:
        pytest.skip("a JSONB column cannot hold text that is not JSON")
    store = await factory.open()
    await store.save(claude())
    await factory.inject_raw(store, "bad-record.json", BAD_RECORDS[reason])
    result = await store.load_all()
    assert list(result.credentials) == ["claude-ann@example.com.json"]
    assert list(result.skipped) == ["bad-record.json"]
    assert result.skipped["bad-record.json"].reason == reason
    with pytest.raises(CredentialError) as info:
        await store.get("bad-record.json")
    assert info.value.reason == reason
