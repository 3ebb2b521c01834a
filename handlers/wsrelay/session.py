"""One connected relay client (``internal/wsrelay/session.go``).

The session reads frames until the socket ends, answers JSON ``ping`` frames, hands every other
frame to the request waiting on its id, and sends a WebSocket ping every ``heartbeat`` seconds.
As in the legacy, only a pong moves the read deadline on: a client that sends data but never
answers pings is dropped after ``read_timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import orjson
import structlog
from aiohttp import WSMsgType, web

from .messages import ERROR, PING, PONG, TERMINAL, BadFrame, Message, parse_message

log = structlog.get_logger("handlers.wsrelay")

HEARTBEAT = 30.0
READ_TIMEOUT = 60.0
MAX_MESSAGE = 64 << 20  # maxInboundMessageLen

# What a waiting request reads from its queue: frames for its id, then None once nothing more comes.
Inbox = asyncio.Queue[Message | None]


class SessionClosed(Exception):
    """The session ended before the request could be sent."""


class RelaySession:
    def __init__(self, ws: web.WebSocketResponse, name: str, *,
                 on_closed: Callable[[RelaySession, str], None],
                 heartbeat: float = HEARTBEAT, read_timeout: float = READ_TIMEOUT) -> None:
        self.ws = ws
        self.name = name
        self._on_closed = on_closed
        self._heartbeat = heartbeat
        self._read_timeout = read_timeout
        self._pending: dict[str, Inbox] = {}
        self._closed = False
        self._deadline = time.monotonic() + read_timeout
        self._tasks: set[asyncio.Task[Any]] = set()
        self.cause = ""

    @property
    def closed(self) -> bool:
        return self._closed

    # --- reading ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve the socket until it ends; the handler returns when this does."""
        beat = asyncio.get_running_loop().create_task(self._beat(), name=f"wsrelay-heartbeat:{self.name}")
        cause = "websocket session closed"
        try:
            while not self._closed:
                wait = self._deadline - time.monotonic()
                if wait <= 0:
                    cause = "read timeout"
                    break
                try:
                    frame = await self.ws.receive(timeout=wait)
                except TimeoutError:
                    continue  # the loop head decides whether a pong moved the deadline meanwhile
                if frame.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    try:
                        message = parse_message(orjson.loads(frame.data))
                    except (orjson.JSONDecodeError, BadFrame) as exc:
                        cause = f"invalid frame: {exc}"
                        break
                    await self._dispatch(message)
                elif frame.type is WSMsgType.PING:
                    await self.ws.pong(frame.data)
                elif frame.type is WSMsgType.PONG:
                    self._deadline = time.monotonic() + self._read_timeout
                else:  # close, closing, closed, error
                    if frame.type is WSMsgType.ERROR:
                        cause = f"websocket error: {frame.data}"
                    break
        finally:
            beat.cancel()
            await self.cleanup(cause)

    async def _dispatch(self, message: Message) -> None:
        if message.type == PING:
            with contextlib.suppress(SessionClosed, ConnectionError):
                await self.send(Message(message.id, PONG))
            return
        inbox = self._pending.get(message.id)
        if inbox is None:
            if message.type in TERMINAL:
                log.debug("wsrelay.unknown_id", provider=self.name, type=message.type)
            return
        inbox.put_nowait(message)
        if message.type in TERMINAL:
            self._pending.pop(message.id, None)
            inbox.put_nowait(None)

    async def _beat(self) -> None:
        while not self._closed:
            await asyncio.sleep(self._heartbeat)
            try:
                await self.ws.ping(b"ping")
            except (ConnectionError, RuntimeError) as exc:
                self._spawn(self.cleanup(f"heartbeat failed: {exc}"))
                return

    # --- requests -----------------------------------------------------------------------------

    async def send(self, message: Message) -> None:
        if self._closed or self.ws.closed:
            raise SessionClosed("websocket session closed")
        # Text frames, as gorilla's WriteJSON sends them.
        await self.ws.send_str(orjson.dumps(message.to_json()).decode())

    async def request(self, message: Message) -> Inbox:
        """Send ``message`` and hand back the queue its answers arrive in."""
        if message.id in self._pending:
            raise ValueError(f"wsrelay: duplicate message id {message.id}")
        inbox: Inbox = asyncio.Queue()
        self._pending[message.id] = inbox
        try:
            await self.send(message)
        except BaseException:
            self._pending.pop(message.id, None)
            raise
        return inbox

    def forget(self, ident: str) -> None:
        """The caller gave up on ``ident``: later frames for it are dropped, as for an unknown id."""
        self._pending.pop(ident, None)

    # --- ending -------------------------------------------------------------------------------

    async def cleanup(self, cause: str) -> None:
        """End the session once: every waiting request gets an ``error`` frame with the cause."""
        if self._closed:
            return
        self._closed = True
        self.cause = cause
        pending, self._pending = self._pending, {}
        for ident, inbox in pending.items():
            inbox.put_nowait(Message(ident, ERROR, {"error": cause}))
            inbox.put_nowait(None)
        self._on_closed(self, cause)
        with contextlib.suppress(Exception):
            await self.ws.close()

    def close_soon(self, cause: str) -> None:
        """``cleanup`` from code that cannot wait (replacement, shutdown, ws-auth turned on)."""
        self._spawn(self.cleanup(cause))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
