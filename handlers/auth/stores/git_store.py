"""Git token store (GITSTORE_GIT_URL): a local clone whose ``auths/`` folder holds the credential files.

Layout as CLIProxyAPI's internal/store/gitstore.go: clone at ``<GITSTORE_LOCAL_PATH>/gitstore``,
credentials in ``auths/<file name>``, config in ``config/config.yaml``, commits by
``CLIProxyAPI <cliproxy@local>`` with messages ``Update auth <name>`` / ``Delete auth <name>``.

Every write is: fetch, reset to the remote tip, change one file, commit, push. A rejected push (a
second gateway pushed first) repeats the round, re-checking the caller's revision; any other failure
resets the clone to the remote tip, so no unpushed or half-written credential stays behind.
Unlike Go we never force-push a squashed history: with two writers a force push loses a write.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import os
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import structlog

from handlers.auth.credential import Credential, CredentialError, content_digest, parse_credential, validate_file_name
from handlers.auth.stores import (
    LoadResult,
    RetryPolicy,
    StoreConflict,
    StoreError,
    StoreUnavailable,
    TokenStore,
    skip_bad,
)
from quotio_gateway.fileio import atomic_write

log = structlog.get_logger("handlers.auth.git_store")

AUTH_SUBDIR = "auths"
AUTHOR = ("CLIProxyAPI", "cliproxy@local")
MAX_PUSH_ROUNDS = 8
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")
_REJECTED = ("[rejected]", "non-fast-forward", "fetch first", "failed to update ref", "stale info")


class GitCommandError(Exception):
    """A git command failed; the text has any URL credentials removed."""

    def __init__(self, args: list[str], stderr: str) -> None:
        clean = _URL_CREDENTIALS.sub("", stderr).strip().splitlines()
        super().__init__(f"git {args[0]}: {clean[-1] if clean else 'failed'}")
        self.stderr = _URL_CREDENTIALS.sub("", stderr)

    @property
    def rejected(self) -> bool:
        return any(marker in self.stderr for marker in _REJECTED)


class GitTokenStore(TokenStore):
    kind = "git"

    def __init__(self, remote_url: str, root: Path, *, username: str = "", token: str = "",
                 retry: RetryPolicy | None = None, timeout: float = 30.0) -> None:
        super().__init__(retry)
        self.remote_url = remote_url
        self.root = Path(root)
        self.auth_dir = self.root / AUTH_SUBDIR
        self._timeout = timeout
        self._env = self._git_env(username, token)
        self._lock = asyncio.Lock()
        self.branch = ""

    def _git_env(self, username: str, token: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "LC_ALL": "C"})
        if token and self.remote_url.startswith(("http://", "https://")):
            # Sent as an HTTP header from the environment, so the token is never written to
            # .git/config or shown in a remote URL.
            pair = base64.b64encode(f"{username or 'git'}:{token}".encode()).decode()
            env.update({"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
                        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {pair}"})
        return env

    def _git(self, *args: str, cwd: Path | None = None, check: bool = True) -> str:
        cmd = ["git", "-c", f"user.name={AUTHOR[0]}", "-c", f"user.email={AUTHOR[1]}",
               "-c", "commit.gpgsign=false", *args]
        try:
            proc = subprocess.run(cmd, cwd=cwd or self.root, env=self._env, capture_output=True, text=True,
                                  timeout=self._timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise GitCommandError(list(args), f"timed out after {self._timeout}s") from exc
        if check and proc.returncode != 0:
            raise GitCommandError(list(args), proc.stderr or proc.stdout)
        return proc.stdout.strip()

    @contextlib.contextmanager
    def _repo_lock(self) -> Iterator[None]:
        # Two gateways sharing one clone take turns; separate clones meet at the remote instead.
        fd = os.open(self.root / ".git" / "quotio-gateway.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # -- start-up --------------------------------------------------------------------------------

    def _remote_tip(self) -> str | None:
        out = self._git("rev-parse", "--verify", "--quiet", f"refs/remotes/origin/{self.branch}", check=False)
        return out or None

    def _sync(self) -> None:
        """Fetch and make the working tree equal to the remote tip (our clone holds nothing unpushed)."""
        self._git("fetch", "--prune", "origin")
        tip = self._remote_tip()
        if tip:
            self._git("reset", "--hard", "--quiet", tip)
        self._tighten_modes()

    def _tighten_modes(self) -> None:
        # git checks files out with the umask's mode; credentials must be owner-only.
        self.auth_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.auth_dir, 0o700)
        for entry in os.scandir(self.auth_dir):
            if entry.is_file() and entry.name.lower().endswith(".json"):
                os.chmod(entry.path, 0o600)

    def _open_clone(self) -> None:
        if not (self.root / ".git").is_dir():
            self.root.parent.mkdir(parents=True, exist_ok=True)
            self._git("clone", "--quiet", self.remote_url, str(self.root), cwd=self.root.parent)
        self.branch = self._git("symbolic-ref", "--short", "HEAD")
        with self._repo_lock():
            self._sync()
            if self._remote_tip() is None:
                # Empty remote: make the first commit so every later round has a tip to reset to.
                (self.root / "config").mkdir(exist_ok=True)
                keep = self.auth_dir / ".gitkeep"
                keep.touch()
                self._git("add", "-A", "--", f"{AUTH_SUBDIR}/.gitkeep")
                if self._git("rev-parse", "--verify", "--quiet", "HEAD", check=False) == "":
                    self._git("commit", "--quiet", "--no-verify", "-m", "Initialize git token store")
                self._git("push", "--quiet", "origin", f"HEAD:refs/heads/{self.branch}")
                self._git("fetch", "--quiet", "origin")

    async def start(self) -> None:
        def op() -> None:
            self._open_clone()

        await self._retrying("clone/pull", lambda: asyncio.to_thread(op), (GitCommandError, OSError))

    async def close(self) -> None:
        return None

    # -- reads -----------------------------------------------------------------------------------

    def _refresh(self) -> None:
        """Bring the clone up to the remote before a read, so other gateways' writes are seen. If the
        remote is unreachable the last pulled state is served, which beats failing a read."""
        with self._repo_lock():
            try:
                self._sync()
            except GitCommandError as exc:
                log.warning("git store: remote unreachable, serving the local clone", error=str(exc))

    def _scan(self) -> LoadResult:
        self._refresh()
        result = LoadResult()
        try:
            names = sorted(e.name for e in os.scandir(self.auth_dir)
                           if e.is_file() and e.name.lower().endswith(".json") and not e.name.startswith("."))
        except FileNotFoundError:
            return result
        for name in names:
            data = (self.auth_dir / name).read_bytes()
            try:
                result.credentials[name] = parse_credential(name, data, content_digest(data))
            except CredentialError as err:
                skip_bad(result, err, self.kind)
        return result

    async def load_all(self) -> LoadResult:
        async with self._lock:
            return await asyncio.to_thread(self._scan)

    def _read(self, file_name: str) -> bytes | None:
        try:
            return (self.auth_dir / validate_file_name(file_name)).read_bytes()
        except FileNotFoundError:
            return None

    def _fresh_read(self, file_name: str) -> bytes | None:
        self._refresh()
        return self._read(file_name)

    async def get(self, file_name: str) -> Credential | None:
        async with self._lock:
            data = await asyncio.to_thread(self._fresh_read, file_name)
        return None if data is None else parse_credential(file_name, data, content_digest(data))

    # -- writes ----------------------------------------------------------------------------------

    def _commit_and_push(self, paths: list[str], message: str, rollback_to: str | None) -> bool:
        """Commit ``paths`` and push; False when there was nothing to commit. On a failed push the
        clone is reset to ``rollback_to`` (the remote tip the change was built on)."""
        self._git("add", "-A", "--", *paths)
        if not self._git("status", "--porcelain", "--", *paths):
            return False
        # The write id keeps two writers' identical changes on one parent from becoming one commit
        # hash, which git would report as a successful push for both.
        self._git("commit", "--quiet", "--no-verify", "-m", message, "-m", f"Write-Id: {uuid.uuid4().hex}")
        try:
            self._git("push", "--quiet", "origin", f"HEAD:refs/heads/{self.branch}")
        except GitCommandError:
            if rollback_to:
                self._git("reset", "--hard", "--quiet", rollback_to, check=False)
            else:
                self._git("reset", "--soft", "--quiet", "HEAD~1", check=False)
            raise
        return True

    def _write(self, file_name: str, message: str, change: Callable[[Path], bool],
               if_revision: str | None) -> bool:
        rel = f"{AUTH_SUBDIR}/{validate_file_name(file_name)}"
        path = self.root / rel
        with self._repo_lock():
            for _ in range(MAX_PUSH_ROUNDS):
                self._sync()
                base = self._remote_tip()
                if if_revision is not None:
                    data = self._read(file_name)
                    if data is None or content_digest(data) != if_revision:
                        raise StoreConflict(file_name)
                try:
                    changed = change(path)
                except OSError:
                    if base:
                        self._git("reset", "--hard", "--quiet", base, check=False)
                    raise
                if not changed:
                    return False
                try:
                    self._commit_and_push([rel], message, rollback_to=base)
                except GitCommandError as exc:
                    if exc.rejected:
                        continue
                    raise
                return changed
        raise StoreUnavailable(f"git store: push of {file_name} kept being rejected by the remote")

    async def _locked_write(self, what: str, file_name: str, message: str, change: Callable[[Path], bool],
                            if_revision: str | None) -> bool:
        async with self._lock:
            try:
                return await self._retrying(what, lambda: asyncio.to_thread(
                    self._write, file_name, message, change, if_revision), (GitCommandError,))
            except OSError as exc:
                raise StoreError(f"git store: cannot {what} {file_name}: {exc.strerror}") from exc

    async def save(self, credential: Credential, *, if_revision: str | None = None) -> Credential:
        data = credential.to_bytes()

        def change(path: Path) -> bool:
            atomic_write(path, data, mode=0o600)
            return True

        await self._locked_write("save", credential.file_name, f"Update auth {credential.file_name}", change,
                                 if_revision)
        return credential.with_revision(content_digest(data))

    async def delete(self, file_name: str) -> bool:
        def change(path: Path) -> bool:
            try:
                path.unlink()
            except FileNotFoundError:
                return False
            return True

        return await self._locked_write("delete", file_name, f"Delete auth {file_name}", change, None)
