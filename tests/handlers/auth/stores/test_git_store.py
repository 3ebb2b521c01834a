"""Git store specifics: the clone layout and commits, file modes, and the remote vanishing."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from handlers.auth.credential import new_credential
from handlers.auth.stores import StoreUnavailable
from handlers.auth.stores.git_store import GitCommandError, GitTokenStore
from tests.handlers.auth.conftest import FAST_RETRY, StoreFactory

ANN = "claude-ann@example.com.json"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


async def test_commits_land_on_the_remote_in_cliproxyapi_layout(git_factory: StoreFactory) -> None:
    store = await git_factory.open()
    await store.save(new_credential(ANN, {"type": "claude", "access_token": "a"}))
    await store.delete(ANN)
    remote = git_factory.remote
    assert remote is not None
    log = git(remote, "log", "--format=%an <%ae>|%s", "main").splitlines()
    assert log == [f"CLIProxyAPI <cliproxy@local>|Delete auth {ANN}",
                   f"CLIProxyAPI <cliproxy@local>|Update auth {ANN}",
                   "CLIProxyAPI <cliproxy@local>|Initialize git token store"]
    assert git(remote, "show", f"main~1:auths/{ANN}") == '{"access_token":"a","type":"claude"}'
    assert git(remote, "ls-tree", "-r", "--name-only", "main") == "auths/.gitkeep"


async def test_credentials_in_the_clone_are_owner_only(git_factory: StoreFactory, tmp_path: Path) -> None:
    store = await git_factory.open("a")
    await store.save(new_credential(ANN, {"type": "claude"}))
    other = await git_factory.open("b")  # a fresh clone checks the file out with the umask's mode
    clone = tmp_path / "clone-b" / "auths"
    assert (await other.get(ANN)) is not None
    assert stat.S_IMODE(os.stat(clone / ANN).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(clone).st_mode) == 0o700


async def test_unreachable_remote_at_start(tmp_path: Path) -> None:
    store = GitTokenStore(str(tmp_path / "missing.git"), tmp_path / "clone", retry=FAST_RETRY)
    with pytest.raises(StoreUnavailable) as info:
        await store.start()
    assert str(info.value).startswith("git store: clone/pull failed after 2 attempts: GitCommandError: git clone: ")


async def test_remote_lost_mid_run_leaves_the_clone_at_the_last_pushed_state(git_factory: StoreFactory,
                                                                             tmp_path: Path) -> None:
    store = await git_factory.open()
    first = await store.save(new_credential(ANN, {"type": "claude", "access_token": "old"}))
    remote = git_factory.remote
    assert remote is not None
    parked = remote.with_name("parked.git")
    remote.rename(parked)
    try:
        with pytest.raises(StoreUnavailable) as info:
            await store.save(first.with_metadata(access_token="new"), if_revision=first.revision)
        assert str(info.value).startswith("git store: save failed after 2 attempts: GitCommandError: git fetch: ")
        current = await store.get(ANN)
        assert current is not None and current.metadata["access_token"] == "old"
    finally:
        parked.rename(remote)
    saved = await store.save(first.with_metadata(access_token="new"), if_revision=first.revision)
    assert saved.metadata["access_token"] == "new"
    assert git(remote, "show", f"main:auths/{ANN}") == '{"access_token":"new","type":"claude"}'


async def test_push_failure_after_commit_rolls_the_clone_back(git_factory: StoreFactory) -> None:
    store = await git_factory.open()
    first = await store.save(new_credential(ANN, {"type": "claude", "access_token": "old"}))
    remote = git_factory.remote
    assert remote is not None
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'remote: refusing for the test' >&2\nexit 1\n")
    hook.chmod(0o755)
    assert isinstance(store, GitTokenStore)
    head_before = git(store.root, "rev-parse", "HEAD")
    with pytest.raises(StoreUnavailable) as info:
        await store.save(first.with_metadata(access_token="new"))
    assert "git push: " in str(info.value)
    assert git(store.root, "rev-parse", "HEAD") == head_before
    assert git(store.root, "status", "--porcelain") == ""
    assert (await store.get(ANN)).metadata["access_token"] == "old"


def test_git_errors_never_show_url_credentials() -> None:
    err = GitCommandError(["push"], "fatal: unable to access 'https://bob:tok3n@git.example/x.git/': 403")
    assert "tok3n" not in str(err) and "tok3n" not in err.stderr
    assert str(err) == "git push: fatal: unable to access 'https://git.example/x.git/': 403"


def test_token_goes_in_an_environment_header_not_the_url(tmp_path: Path) -> None:
    store = GitTokenStore("https://git.example/x.git", tmp_path, username="bob", token="tok3n")
    assert store.remote_url == "https://git.example/x.git"
    assert store._env["GIT_CONFIG_KEY_0"] == "http.extraHeader"
    assert store._env["GIT_CONFIG_VALUE_0"] == "Authorization: Basic Ym9iOnRvazNu"
