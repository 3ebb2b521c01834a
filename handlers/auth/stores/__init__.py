"""Token stores: one interface over the auth-dir, PostgreSQL, a Git repository and S3 object storage.

``store_from_env`` picks the backend exactly as CLIProxyAPI's cmd/server/main.go (9b72ea9ef) does:
PGSTORE_DSN wins, then OBJECTSTORE_ENDPOINT, then GITSTORE_GIT_URL, else the plain auth-dir. Each
variable may also be spelled in lower case; blank values count as unset.
"""

from __future__ import annotations

import abc
import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import structlog

from handlers.auth.credential import Credential, CredentialError

log = structlog.get_logger("handlers.auth.stores")

T = TypeVar("T")


class StoreError(RuntimeError):
    """Base of every store failure; messages never carry secrets."""


class StoreUnavailable(StoreError):
    """The backend could not be reached or written after the configured retries; nothing changed."""


class StoreConflict(StoreError):
    """A conditional save lost: someone else changed the credential since it was read."""

    def __init__(self, file_name: str) -> None:
        super().__init__(f"credential {file_name} was changed by another writer")
        self.file_name = file_name


class StoreConfigError(StoreError):
    """The environment names a store but leaves out something it needs."""


@dataclass
class LoadResult:
    """What a full listing found: good credentials by file name, and the files skipped with why."""

    credentials: dict[str, Credential] = field(default_factory=dict)
    skipped: dict[str, CredentialError] = field(default_factory=dict)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    base_delay: float = 0.2
    max_delay: float = 2.0


class TokenStore(abc.ABC):
    """Persistent home of credential files, keyed by file name (``claude-a@b.json``).

    Reads return ``Credential`` objects carrying a ``revision``; ``save(cred, if_revision=...)``
    writes only if the stored copy still has that revision, which is how two processes refreshing
    the same credential avoid overwriting each other (the loser gets ``StoreConflict``).
    """

    kind: str = "abstract"

    def __init__(self, retry: RetryPolicy | None = None) -> None:
        self.retry = retry or RetryPolicy()

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect / clone / create what is needed; raises ``StoreUnavailable`` after retries."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def load_all(self) -> LoadResult:
        """Every credential; unreadable or unknown-type files are skipped with a warning."""

    @abc.abstractmethod
    async def get(self, file_name: str) -> Credential | None:
        """One credential, or ``None`` when absent; raises ``CredentialError`` when unreadable."""

    @abc.abstractmethod
    async def save(self, credential: Credential, *, if_revision: str | None = None) -> Credential:
        """Create or replace; returns the credential with its new revision."""

    @abc.abstractmethod
    async def delete(self, file_name: str) -> bool:
        """Remove; ``False`` when it was not there."""

    async def list_names(self) -> list[str]:
        return sorted((await self.load_all()).credentials)

    async def __aenter__(self) -> TokenStore:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _retrying(self, what: str, op: Callable[[], Awaitable[T]],
                        transient: tuple[type[BaseException], ...]) -> T:
        """Run ``op`` with exponential backoff on ``transient`` errors, then give up clearly."""
        delay = self.retry.base_delay
        last: BaseException | None = None
        for attempt in range(1, self.retry.attempts + 1):
            try:
                return await op()
            except transient as exc:
                last = exc
                log.warning("token store operation failed", store=self.kind, op=what, attempt=attempt,
                            error=type(exc).__name__)
                if attempt < self.retry.attempts:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.retry.max_delay)
        raise StoreUnavailable(
            f"{self.kind} store: {what} failed after {self.retry.attempts} attempts: "
            f"{type(last).__name__}: {describe_error(last)}"
        ) from last


def describe_error(exc: BaseException | None) -> str:
    text = str(exc) if exc is not None else ""
    return text.splitlines()[0][:200] if text else "no detail"


def skip_bad(result: LoadResult, err: CredentialError, store: str) -> None:
    result.skipped[err.file_name] = err
    log.warning("skipping credential", store=store, file=err.file_name, reason=err.reason, detail=err.detail)


def lookup_env(environ: Mapping[str, str], name: str) -> str | None:
    """CLIProxyAPI's lookupEnv: upper-case name first, then lower case; trimmed; blank is unset."""
    for key in (name, name.lower()):
        value = environ.get(key)
        if value is not None and value.strip():
            return value.strip()
    return None


def _local_base(environ: Mapping[str, str], explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    writable = lookup_env(environ, "WRITABLE_PATH")
    return Path(writable) if writable else Path.cwd()


def store_from_env(environ: Mapping[str, str], auth_dir: Path | str, *,
                   retry: RetryPolicy | None = None) -> TokenStore:
    """The store CLIProxyAPI would use for this environment (not started yet)."""
    from handlers.auth.stores.file_store import FileTokenStore

    dsn = lookup_env(environ, "PGSTORE_DSN")
    if dsn:
        from handlers.auth.stores.postgres_store import PostgresTokenStore

        return PostgresTokenStore(dsn, schema=lookup_env(environ, "PGSTORE_SCHEMA") or "", retry=retry)
    endpoint = lookup_env(environ, "OBJECTSTORE_ENDPOINT")
    if endpoint:
        from handlers.auth.stores.object_store import ObjectTokenStore

        missing = [name for name in ("OBJECTSTORE_BUCKET", "OBJECTSTORE_ACCESS_KEY", "OBJECTSTORE_SECRET_KEY")
                   if not lookup_env(environ, name)]
        if missing:
            raise StoreConfigError(f"object store: {', '.join(missing)} not set")
        return ObjectTokenStore(
            endpoint,
            bucket=lookup_env(environ, "OBJECTSTORE_BUCKET") or "",
            access_key=lookup_env(environ, "OBJECTSTORE_ACCESS_KEY") or "",
            secret_key=lookup_env(environ, "OBJECTSTORE_SECRET_KEY") or "",
            retry=retry,
        )
    git_url = lookup_env(environ, "GITSTORE_GIT_URL")
    if git_url:
        from handlers.auth.stores.git_store import GitTokenStore

        root = _local_base(environ, lookup_env(environ, "GITSTORE_LOCAL_PATH")) / "gitstore"
        return GitTokenStore(
            git_url, root,
            username=lookup_env(environ, "GITSTORE_GIT_USERNAME") or "",
            token=lookup_env(environ, "GITSTORE_GIT_TOKEN") or "",
            retry=retry,
        )
    return FileTokenStore(Path(os.path.expanduser(str(auth_dir))), retry=retry)


__all__ = [
    "LoadResult",
    "RetryPolicy",
    "StoreConfigError",
    "StoreConflict",
    "StoreError",
    "StoreUnavailable",
    "TokenStore",
    "lookup_env",
    "store_from_env",
]
