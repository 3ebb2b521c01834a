"""Putting the log files into the app: the directory, ``main.log`` following ``logging-to-file``,
the size limit, and the per-request logs of natively answered calls."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

import structlog
from aiohttp import web

from handlers.usage.statistics import Timestamp
from quotio_gateway import appkeys
from quotio_gateway.config.models import Config
from quotio_gateway.dispatch import (
    BEFORE_MIDDLEWARE_KEY,
    CLIENT_GONE_KEY,
    CORS_HEADERS,
    REQUEST_ID_KEY,
    UPSTREAM_SERVER_KEY,
)
from quotio_gateway.mainlog import MAIN_LOG, close_main_log, main_log, open_main_log

from .cleaner import INTERVAL_SECONDS, enforce_size_limit
from .directory import resolve_log_dir
from .request_log_writer import (
    ERROR_ANSWER_KEY,
    GONE_ANSWER_KEY,
    STREAM_RESPONSE_KEY,
    STREAMED_BODY_KEY,
    TERMINAL_ERROR_KEY,
    UPSTREAM_LOG_KEY,
    TerminalError,
    file_name,
    prune_error_logs,
    render,
    should_log,
    write_log,
)
from .routes import LOG_DIR

log = structlog.get_logger(__name__)

# Headers aiohttp writes into a response's head itself. The legacy's file lists the handler's
# header map, which never holds what Go's server adds on the way out (framing, Date); an answer
# relayed from an upstream (UPSTREAM_SERVER_KEY set) carries the upstream's Date and length, as
# the legacy's copy of its headers does, and never its hop-by-hop Transfer-Encoding.
_SERVER_ADDED = frozenset({"date", "content-length", "transfer-encoding"})
_SERVER_ADDED_RELAYED = frozenset({"transfer-encoding"})


def _apply(directory: Path, cfg: Config) -> None:
    if cfg.logging_to_file:
        if main_log() is None:
            try:
                open_main_log(directory)
            except OSError as exc:
                log.warning("cannot open main.log", directory=str(directory), error=str(exc))
    else:
        close_main_log()


def _clean(directory: Path, cfg: Config) -> None:
    limit = cfg.logs_max_total_size_mb
    if limit > 0:
        protected = directory / MAIN_LOG if cfg.logging_to_file else None
        deleted = enforce_size_limit(directory, limit * 1024 * 1024, protected)
        if deleted:
            log.info("log directory over its size limit: oldest files deleted", deleted=deleted)


def _failed_stream(request: web.Request, response: web.StreamResponse) -> bool:
    """A stream whose handler set an error status before its terminal error frame: an error for
    the legacy's error-only logging though the client saw a 200."""
    if isinstance(response, web.Response):
        return False
    # The request's own dict: ``request.get`` (Mapping.get) raises and catches a KeyError for an
    # absent key, and this runs for every streamed answer.
    terminal: TerminalError | None = request._state.get(TERMINAL_ERROR_KEY)
    return terminal is not None and terminal.status >= 400


class RequestLogger:
    """Called once per answered request (after the answer is out): writes the request's log
    file when ``request-log`` is on, or an ``error-…`` one for an error answer when it is off."""

    def __init__(self, directory: Path, config: Callable[[], Config]) -> None:
        self.directory = directory
        self.config = config
        self._tasks: set[asyncio.Task[None]] = set()

    def __call__(self, request: web.Request, response: web.StreamResponse, side: str) -> None:
        # The common answer (request-log off, no error) is settled first, with the fewest lookups:
        # this runs for every request the gateway answers.
        enabled = self.config().request_log
        if not enabled and response.status < 400 and not _failed_stream(request, response):
            return
        if side != "native" or response._state.get(CLIENT_GONE_KEY):
            # Legacy's answer, or a client that hung up on a native one (the dispatcher's 499
            # stand-in). The legacy's middleware still finalises then (response_writer.go:244-300):
            # a non-stream handler's error answer to its cancelled call (an error log with
            # request-log off), a stream handler's empty 200 when it had written nothing, or what a
            # stream sent under the status its head committed (neither an error with request-log off).
            answer = request.get(GONE_ANSWER_KEY)
            if answer is None and enabled:
                answer = request.get(STREAM_RESPONSE_KEY)
            if answer is None or (not enabled and answer.status < 400 and not _failed_stream(request, answer)):
                return
            if not answer.prepared and not request._state.get(BEFORE_MIDDLEWARE_KEY):
                # Never sent, so on_response_prepare never gave it the CORS middleware's headers,
                # which the legacy's header map held before its handler ran (server.go:226,
                # 825-830) and its log lists (response_writer.go:303-314).
                for name, value in CORS_HEADERS:
                    answer.headers.setdefault(name, value)
            response = answer
        if not should_log(request.method, request.path):
            return
        task = asyncio.get_running_loop().create_task(self._write(request, response, error=not enabled))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write(self, request: web.Request, response: web.StreamResponse, *, error: bool) -> None:
        body = b""
        with contextlib.suppress(Exception):
            body = await request.read()  # already read by the handler: the cached bytes
        answer = response.body if isinstance(response, web.Response) and isinstance(response.body, bytes) else None
        if answer is None and (streamed := request.get(STREAMED_BODY_KEY)) is not None:
            answer = bytes(streamed)
        status, stamp, streaming = response.status, Timestamp.now_local().rfc3339_nano(), False
        terminal: TerminalError | None = request.get(TERMINAL_ERROR_KEY)
        if terminal is not None:
            # What the legacy's writer wrapper kept once the handler set the error's status.
            status, streaming = terminal.status, terminal.streams and not error
            if error or terminal.streams:
                answer = terminal.tail
            if streaming:
                stamp = terminal.timestamp
        now = time.time()
        name = file_name(request.path, request.get(REQUEST_ID_KEY, "") or "0",
                         time.strftime("%Y-%m-%dT%H%M%S", time.localtime(now)), error=error)
        upstream = request.get(UPSTREAM_LOG_KEY)
        if upstream is not None:
            api_request, api_response = upstream.api_request(), upstream.api_response()
        else:
            api_request, api_response = b"", (answer or b"") if response.get(ERROR_ANSWER_KEY) else b""
        added = _SERVER_ADDED if response.get(UPSTREAM_SERVER_KEY) is None else _SERVER_ADDED_RELAYED
        response_headers = [(k, v) for k, v in response.headers.items() if k.lower() not in added]
        # request_logging.go:71-75: the decoded path, then "?" and the raw query (masked by
        # render) when there is one.
        query = request.rel_url.raw_query_string
        url = request.path + ("?" + query if query else "")
        content = render(url=url, method=request.method, headers=request.headers.items(), body=body,
                         timestamp=stamp, status=status, response_headers=response_headers,
                         response_body=answer, api_request=api_request, api_response=api_response,
                         streaming=streaming)
        try:
            write_log(self.directory, name, content)
            if error:
                prune_error_logs(self.directory)
        except OSError as exc:
            log.warning("cannot write the request log", file=name, error=str(exc))


def install_log_files(app: web.Application) -> None:
    config_store = app[appkeys.CONFIG_STORE]
    directory = resolve_log_dir(config_store.current.auth_dir, os.environ, Path.cwd())
    app[LOG_DIR] = directory
    # ``commercial-mode`` leaves the request-logging middleware out at start-up (server.go:214):
    # no request or error log files for the life of the process, whatever request-log says.
    if not config_store.current.commercial_mode:
        app[appkeys.ANSWERED].append(RequestLogger(directory, lambda: config_store.current))
    cleaner: list[asyncio.Task[None]] = []

    async def clean_every_minute() -> None:
        while True:
            await asyncio.sleep(INTERVAL_SECONDS)
            _clean(directory, config_store.current)

    def changed(old: Config, new: Config) -> None:
        if (old.logging_to_file, old.logs_max_total_size_mb) != (new.logging_to_file, new.logs_max_total_size_mb):
            _apply(directory, new)
            _clean(directory, new)

    async def startup(app: web.Application) -> None:
        _apply(directory, config_store.current)
        _clean(directory, config_store.current)
        config_store.subscribe(changed)
        cleaner.append(asyncio.get_running_loop().create_task(clean_every_minute()))

    async def cleanup(app: web.Application) -> None:
        for task in cleaner:
            task.cancel()
        close_main_log()

    app.on_startup.append(startup)
    app.on_cleanup.append(cleanup)
