"""Real backends for the token-store tests: PostgreSQL on 127.0.0.1:5432, a moto S3 server, bare git repos.

Each PostgreSQL test gets its own schema (named for this run) that is dropped afterwards; each S3
test its own bucket; each git test its own bare repository under tmp_path.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import pytest

from handlers.auth.stores import RetryPolicy, TokenStore
from handlers.auth.stores.file_store import FileTokenStore
from handlers.auth.stores.git_store import GitTokenStore
from handlers.auth.stores.object_store import ObjectTokenStore
from handlers.auth.stores.postgres_store import PostgresTokenStore

PG_DSN = os.environ.get("QUOTIO_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
RUN_ID = f"qg_auth_{os.getpid()}_{uuid.uuid4().hex[:6]}"
FAST_RETRY = RetryPolicy(attempts=2, base_delay=0.05, max_delay=0.1)
S3_KEYS = {"access_key": "test-access", "secret_key": "test-secret-key"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port}")


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class TcpRelay:
    """A loopback TCP relay that tests can cut and restore to make a backend vanish mid-run."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        await asyncio.sleep(0.05)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update({writer, up_writer})
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self._writers.difference_update({writer, up_writer})


@pytest.fixture
async def relay_factory() -> AsyncIterator[Callable[[int], TcpRelay]]:
    relays: list[TcpRelay] = []

    def make(target_port: int) -> TcpRelay:
        relay = TcpRelay(target_port)
        relays.append(relay)
        return relay

    yield make
    for relay in relays:
        await relay.stop()


async def _drop_schema(schema: str) -> None:
    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
def pg_schema() -> Iterator[str]:
    schema = f"{RUN_ID}_{uuid.uuid4().hex[:8]}"
    yield schema
    # A private loop in a worker thread: this sync fixture may be torn down inside the test's loop.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _drop_schema(schema)).result(timeout=30)


def init_bare_repo(path: Path) -> Path:
    subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch=main", str(path)], check=True)
    return path


class StoreFactory:
    """Builds stores of one kind on one shared backend; ``instance`` names a separate process's view
    (its own clone for git), the same name again is that process restarted."""

    def __init__(self, kind: str, tmp_path: Path, *, pg_schema: str = "", s3_endpoint: str = "") -> None:
        self.kind = kind
        self.tmp_path = tmp_path
        self.pg_schema = pg_schema
        self.s3_endpoint = s3_endpoint
        self.bucket = f"qg-{uuid.uuid4().hex[:12]}"
        self.remote = init_bare_repo(tmp_path / "remote.git") if kind == "git" else None
        self.opened: list[TokenStore] = []

    def build(self, instance: str = "a", **overrides: object) -> TokenStore:
        store: TokenStore
        if self.kind == "file":
            store = FileTokenStore(self.tmp_path / "auth", retry=FAST_RETRY)
        elif self.kind == "postgres":
            store = PostgresTokenStore(str(overrides.get("dsn", PG_DSN)), schema=self.pg_schema, retry=FAST_RETRY)
        elif self.kind == "git":
            store = GitTokenStore(str(overrides.get("remote", self.remote)), self.tmp_path / f"clone-{instance}",
                                  retry=FAST_RETRY)
        else:
            store = ObjectTokenStore(str(overrides.get("endpoint", self.s3_endpoint)), bucket=self.bucket,
                                     retry=FAST_RETRY, **S3_KEYS)
        self.opened.append(store)
        return store

    async def open(self, instance: str = "a", **overrides: object) -> TokenStore:
        store = self.build(instance, **overrides)
        await store.start()
        return store

    async def inject_raw(self, store: TokenStore, name: str, data: bytes) -> None:
        """Put bytes into the backend the way an outside writer would, bypassing ``save``."""
        if self.kind == "file":
            (self.tmp_path / "auth" / name).write_bytes(data)
        elif self.kind == "postgres":
            conn = await asyncpg.connect(PG_DSN)
            try:
                await conn.execute(f'INSERT INTO "{self.pg_schema}".auth_store (id, content) VALUES ($1, $2::jsonb)',
                                   name, data.decode())
            finally:
                await conn.close()
        elif self.kind == "git":
            await asyncio.to_thread(self._push_from_outside, name, data)
        else:
            assert isinstance(store, ObjectTokenStore)
            status, _, _ = await store._call("inject", "PUT", "auths/" + name, body=data)
            assert status == 200

    def _push_from_outside(self, name: str, data: bytes) -> None:
        outside = self.tmp_path / f"outside-{uuid.uuid4().hex[:6]}"
        subprocess.run(["git", "clone", "--quiet", str(self.remote), str(outside)], check=True)
        (outside / "auths" / name).write_bytes(data)
        ident = ["-c", "user.name=outside", "-c", "user.email=outside@example.invalid"]
        subprocess.run(["git", *ident, "-C", str(outside), "add", "-A"], check=True)
        subprocess.run(["git", *ident, "-C", str(outside), "commit", "--quiet", "-m", f"outside {name}"], check=True)
        subprocess.run(["git", "-C", str(outside), "push", "--quiet", "origin", "HEAD"], check=True)

    async def close_all(self) -> None:
        for store in self.opened:
            with contextlib.suppress(Exception):
                await store.close()


@pytest.fixture
async def postgres_factory(tmp_path: Path, pg_schema: str) -> AsyncIterator[StoreFactory]:
    made = StoreFactory("postgres", tmp_path, pg_schema=pg_schema)
    yield made
    await made.close_all()


@pytest.fixture
async def object_factory(tmp_path: Path, moto_endpoint: str) -> AsyncIterator[StoreFactory]:
    made = StoreFactory("object", tmp_path, s3_endpoint=moto_endpoint)
    yield made
    await made.close_all()


@pytest.fixture
async def git_factory(tmp_path: Path) -> AsyncIterator[StoreFactory]:
    made = StoreFactory("git", tmp_path)
    yield made
    await made.close_all()


@pytest.fixture(params=["file", "postgres", "git", "object"])
async def factory(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    kind = request.param
    if kind == "postgres":
        made = StoreFactory(kind, tmp_path, pg_schema=request.getfixturevalue("pg_schema"))
    elif kind == "object":
        made = StoreFactory(kind, tmp_path, s3_endpoint=request.getfixturevalue("moto_endpoint"))
    else:
        made = StoreFactory(kind, tmp_path)
    yield made
    await made.close_all()
