"""Store choice from the environment, in CLIProxyAPI's priority: PostgreSQL > object store > git > file."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.auth.stores import StoreConfigError, lookup_env, store_from_env
from handlers.auth.stores.file_store import FileTokenStore
from handlers.auth.stores.git_store import GitTokenStore
from handlers.auth.stores.object_store import ObjectTokenStore
from handlers.auth.stores.postgres_store import PostgresTokenStore

PG = {"PGSTORE_DSN": "postgresql://u@127.0.0.1/db", "PGSTORE_SCHEMA": "cliproxy"}
OBJ = {"OBJECTSTORE_ENDPOINT": "http://127.0.0.1:9000", "OBJECTSTORE_BUCKET": "b",
       "OBJECTSTORE_ACCESS_KEY": "ak", "OBJECTSTORE_SECRET_KEY": "sk"}
GIT = {"GITSTORE_GIT_URL": "https://git.example/tokens.git", "GITSTORE_LOCAL_PATH": "/srv/q"}


@pytest.mark.parametrize(("env", "kind"), [
    ({}, FileTokenStore),
    (GIT, GitTokenStore),
    ({**GIT, **OBJ}, ObjectTokenStore),
    ({**GIT, **OBJ, **PG}, PostgresTokenStore),
    ({**GIT, **PG}, PostgresTokenStore),
    ({**OBJ, **PG}, PostgresTokenStore),
])
def test_priority(env: dict[str, str], kind: type, tmp_path: Path) -> None:
    assert type(store_from_env(env, tmp_path)) is kind


def test_file_store_uses_the_auth_dir_with_home_expanded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    store = store_from_env({}, "~/.cli-proxy-api")
    assert isinstance(store, FileTokenStore)
    assert store.auth_dir == tmp_path / ".cli-proxy-api"


def test_postgres_settings(tmp_path: Path) -> None:
    store = store_from_env(PG, tmp_path)
    assert isinstance(store, PostgresTokenStore)
    assert store.schema == "cliproxy"
    assert store_from_env({"PGSTORE_DSN": "postgresql://x"}, tmp_path).schema == ""


def test_lower_case_names_and_blank_values(tmp_path: Path) -> None:
    assert isinstance(store_from_env({"pgstore_dsn": "postgresql://x"}, tmp_path), PostgresTokenStore)
    assert isinstance(store_from_env({"PGSTORE_DSN": "   ", **GIT}, tmp_path), GitTokenStore)
    assert lookup_env({"GITSTORE_GIT_URL": "", "gitstore_git_url": " u "}, "GITSTORE_GIT_URL") == "u"
    assert lookup_env({"GITSTORE_GIT_URL": "A", "gitstore_git_url": "b"}, "GITSTORE_GIT_URL") == "A"


def test_git_clone_goes_under_local_path_then_writable_path_then_cwd(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    store = store_from_env(GIT, tmp_path)
    assert isinstance(store, GitTokenStore)
    assert (store.root, store.auth_dir) == (Path("/srv/q/gitstore"), Path("/srv/q/gitstore/auths"))
    url_only = {"GITSTORE_GIT_URL": GIT["GITSTORE_GIT_URL"]}
    assert store_from_env({**url_only, "WRITABLE_PATH": "/w"}, tmp_path).root == Path("/w/gitstore")
    monkeypatch.chdir(tmp_path)
    assert store_from_env(url_only, tmp_path).root == tmp_path / "gitstore"


def test_git_credentials_are_passed_through(tmp_path: Path) -> None:
    store = store_from_env({**GIT, "GITSTORE_GIT_USERNAME": "bob", "GITSTORE_GIT_TOKEN": "tok"}, tmp_path)
    assert isinstance(store, GitTokenStore)
    assert store._env["GIT_CONFIG_VALUE_0"] == "Authorization: Basic Ym9iOnRvaw=="


def test_object_store_settings(tmp_path: Path) -> None:
    store = store_from_env({**OBJ, "OBJECTSTORE_ENDPOINT": "minio.local:9000"}, tmp_path)
    assert isinstance(store, ObjectTokenStore)
    assert (store.base_url, store.bucket) == ("https://minio.local:9000", "b")


def test_object_store_missing_settings_name_them(tmp_path: Path) -> None:
    with pytest.raises(StoreConfigError) as info:
        store_from_env({"OBJECTSTORE_ENDPOINT": "http://x", "OBJECTSTORE_BUCKET": "b"}, tmp_path)
    assert str(info.value) == "object store: OBJECTSTORE_ACCESS_KEY, OBJECTSTORE_SECRET_KEY not set"
