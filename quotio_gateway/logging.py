"""structlog configuration: JSON lines for machines, console lines for people, secrets masked in both.

Every event, whether it comes from structlog or from a stdlib logger (aiohttp, asyncio), passes the
same redaction processor before it is rendered, so no code path can print a credential by accident.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import logging
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any, TextIO
from urllib.parse import unquote_plus

import orjson
import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from .mainlog import format_line, main_log

REDACTED = "***"

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}

# Names (lower case, "-" folded to "_") whose values are secrets wherever they appear: event
# keys, header names, query parameters, JSON members.
_SENSITIVE_NAMES = frozenset({
    "key", "authorization", "proxy_authorization", "cookie", "set_cookie", "password", "passwd",
    "secret", "x_api_key", "x_goog_api_key", "x_management_key", "management_key", "api_key", "apikey",
})
_SENSITIVE_PARTS = ("token", "secret", "password", "passwd", "api_key", "apikey", "management_key",
                    "authorization", "cookie")
# Values whose first word is an auth scheme keep the scheme: "Bearer ***" still tells a reader how
# the client authenticated without saying with what.
_SCHEME_NAMES = frozenset({"authorization", "proxy_authorization"})

# name=value pairs in query strings, form bodies and free text. Only the name is matched: the scan
# must go on inside a harmless value ("next=/cb?token=abc"), and a secret value is measured
# separately so it is masked whole, padding and all.
_PAIR_NAME = re.compile(r"(?:^|(?<=[?&;\s]))(?P<name>[^\s=&?#;\"']+)=")
_PAIR_VALUE = re.compile(r"(?P<q>[\"']?)[^\s&#;\"'<>]*")
# "name": "value" members of JSON bodies and Python reprs ('name': 'value').
_QUOTED_PAIR = re.compile(
    r"""(?P<q>["'])(?P<name>[^"'\s:,{}]{1,64})(?P=q)\s*:\s*(?P<vq>["'])(?P<val>(?:\\.|(?!(?P=vq))[^\\])*)(?P=vq)""")
# Credentials recognisable by shape alone, wherever they sit in a message.
_TOKEN_SHAPES = re.compile(
    r"(?P<scheme>\b(?:[Bb]earer|[Bb]asic)\s+)[A-Za-z0-9._~+/=-]{4,}"
    r"|\bsk-[A-Za-z0-9_-]{16,}"
    r"|\bAIza[0-9A-Za-z_-]{30,}"
    r"|\bya29\.[0-9A-Za-z_.-]{10,}"
    r"|\b1//[0-9A-Za-z_-]{20,}"
    r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
# user:password@ in URLs (proxy-url settings, upstream base URLs).
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+@")

_MAX_DEPTH = 8


# structlog's ``merge_contextvars`` takes every context variable named ``structlog_<key>``. Setting
# this one directly is what ``bind_contextvars(request_id=…)`` does, without building a mapping and
# a name on every request (it runs once per request on the hot path).
_REQUEST_ID: contextvars.ContextVar[Any] = contextvars.ContextVar("structlog_request_id", default=Ellipsis)


def bind_request_id(request_id: str) -> None:
    """Every log line written from here on in this task carries ``request_id``."""
    _REQUEST_ID.set(request_id)


@lru_cache(maxsize=4096)
def is_sensitive_name(name: str) -> bool:
    """True when a key, header or parameter called ``name`` carries a secret."""
    folded = name.strip().lower().replace("-", "_")
    if folded.endswith("[]"):
        folded = folded[:-2]
    if folded in _SENSITIVE_NAMES:
        return True
    return any(part in folded for part in _SENSITIVE_PARTS)


def _mask_credential(name: str, value: str) -> str:
    if not value:
        return value
    if name.strip().lower().replace("-", "_") in _SCHEME_NAMES:
        scheme, sep, _rest = value.strip().partition(" ")
        if sep:
            return f"{scheme} {REDACTED}"
    return REDACTED


def _mask_pairs(text: str) -> str:
    parts: list[str] = []
    done = 0
    for match in _PAIR_NAME.finditer(text):
        if match.start() < done or not is_sensitive_name(unquote_plus(match.group("name"))):
            continue
        value = _PAIR_VALUE.match(text, match.end())
        if value is None:  # cannot happen: the pattern also matches the empty string
            continue
        quote = value.group("q")
        if value.end() == match.end() + len(quote):
            continue
        parts += (text[done:match.end()], quote, REDACTED)
        done = value.end()
    if not parts:
        return text
    parts.append(text[done:])
    return "".join(parts)


def _sub_quoted_pair(match: re.Match[str]) -> str:
    if not is_sensitive_name(match.group("name")) or not match.group("val"):
        return match.group(0)
    q, vq = match.group("q"), match.group("vq")
    value = _mask_credential(match.group("name"), match.group("val"))
    return f"{q}{match.group('name')}{q}: {vq}{value}{vq}"


def _sub_token_shape(match: re.Match[str]) -> str:
    scheme = match.group("scheme")
    return f"{scheme}{REDACTED}" if scheme else REDACTED


def _may_hold_token(text: str) -> bool:
    # Substring tests are ~10x cheaper than letting the alternation scan every position, and
    # almost every logged string (paths, labels, ids) fails all of them.
    return ("earer" in text or "asic" in text or "sk-" in text or "AIza" in text or "ya29." in text
            or "1//" in text or "eyJ" in text)


def redact_text(text: str) -> str:
    """Mask credentials inside free text: query/form pairs, JSON members, bearer tokens, URL passwords."""
    if len(text) < 6:
        return text
    out = text
    if "=" in out:
        out = _mask_pairs(out)
    if '"' in out or "'" in out:
        out = _QUOTED_PAIR.sub(_sub_quoted_pair, out)
    if len(out) >= 12 and _may_hold_token(out):
        out = _TOKEN_SHAPES.sub(_sub_token_shape, out)
    if "://" in out and "@" in out:
        out = _URL_PASSWORD.sub(rf"\g<head>{REDACTED}@", out)
    return out


def redact_query(path_qs: str) -> str:
    """Mask the values of sensitive query parameters in a request target such as ``/v1/x?key=abc``."""
    path, sep, query = path_qs.partition("?")
    if not sep or not query:
        return path_qs
    fragment = ""
    if "#" in query:
        query, _, rest = query.partition("#")
        fragment = "#" + rest
    parts = query.split("&")
    changed = False
    for i, part in enumerate(parts):
        name, eq, value = part.partition("=")
        if eq and value and is_sensitive_name(unquote_plus(name)):
            parts[i] = f"{name}={REDACTED}"
            changed = True
    if not changed:
        return path_qs
    return f"{path}?{'&'.join(parts)}{fragment}"


def redact_header(name: str, value: str) -> str:
    """One header value as it may be logged: a credential masked, secrets inside others too."""
    return _mask_credential(name, value) if is_sensitive_name(name) else redact_text(value)


def redact_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """A loggable copy of ``headers``: credentials masked, repeated headers joined with ", "."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for name, value in items:
        masked = redact_header(name, value)
        out[name] = f"{out[name]}, {masked}" if name in out else masked
    return out


def _mask_all(value: Any, depth: int) -> Any:
    """Everything under a sensitive key except plain numbers (token *counts* are not secrets)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth < _MAX_DEPTH and isinstance(value, Mapping):
        return {k: _mask_all(v, depth + 1) for k, v in value.items()}
    if depth < _MAX_DEPTH and isinstance(value, list | tuple):
        return [_mask_all(v, depth + 1) for v in value]
    if isinstance(value, str | bytes) and not value:
        return value
    return REDACTED


def _redact_value(name: str, value: Any, depth: int) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if is_sensitive_name(name):
        if isinstance(value, str):
            return _mask_credential(name, value)
        return _mask_all(value, depth)
    if isinstance(value, str):
        return redact_text(value)
    if depth >= _MAX_DEPTH:
        return REDACTED
    if isinstance(value, Mapping):
        return {k: _redact_value(str(k), v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value("", v, depth + 1) for v in value]
    if isinstance(value, bytes | bytearray | memoryview):
        return redact_text(bytes(value).decode("utf-8", "replace"))
    # Unknown objects (exceptions, URLs, paths) would be stringified by the renderer after this
    # processor has run, so stringify them here where the text can still be scanned.
    return redact_text(str(value))


# Keys the pipeline itself fills with values that cannot hold a secret.
_TRUSTED_KEYS = frozenset({"timestamp", "level", "logger"})


def redact_event(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask secrets anywhere in the event dict."""
    for key in event_dict:
        if key in _TRUSTED_KEYS:
            continue
        value = event_dict[key]
        if value is None or isinstance(value, bool | int | float):
            continue
        event_dict[key] = _redact_value(key, value, 0)
    return event_dict


# Keys a main.log line shows in its own brackets, or not at all.
_MAIN_LOG_SKIP = frozenset({"event", "level", "timestamp", "logger", "request_id", "exception", "stack"})


def tee_main_log(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor (after redaction): the event as a CLIProxyAPI line in ``main.log``
    while ``logging-to-file`` is on."""
    sink = main_log()
    # The access logger's events have their own line in the legacy's access format (access_log.py).
    if sink is not None and event_dict.get("logger") != "quotio_gateway.access":
        message = " ".join([str(event_dict.get("event", "")),
                            *(f"{k}={v}" for k, v in event_dict.items() if k not in _MAIN_LOG_SKIP)])
        trace = event_dict.get("exception")
        if trace:
            message = f"{message}\n{trace}"
        request_id = event_dict.get("request_id")
        sink.write(format_line(time.time(), request_id if isinstance(request_id, str) else None,
                               str(event_dict.get("level", method_name)), message))
    return event_dict


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _orjson_dumps(event_dict: EventDict, **_kw: Any) -> str:
    # Text, not bytes: stdlib records and structlog events share one text stream, and mixing a
    # bytes writer on stdout.buffer with the text layer can reorder lines.
    return orjson.dumps(event_dict, default=_json_default).decode()


def _renderer(as_json: bool, stream: TextIO) -> Processor:
    if as_json:
        return structlog.processors.JSONRenderer(serializer=_orjson_dumps)
    return structlog.dev.ConsoleRenderer(colors=_is_tty(stream), exception_formatter=structlog.dev.plain_traceback)


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class _NamedWriteLogger(structlog.WriteLogger):
    """A WriteLogger that remembers the name given to ``structlog.get_logger(name)``."""

    def __init__(self, file: TextIO, name: str | None) -> None:
        super().__init__(file)
        self.name = name


class _NamedWriteLoggerFactory:
    def __init__(self, file: TextIO) -> None:
        self._file = file

    def __call__(self, *args: Any) -> _NamedWriteLogger:
        name = args[0] if args and isinstance(args[0], str) else None
        return _NamedWriteLogger(self._file, name)


def _add_logger_name(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    name = getattr(logger, "name", None)
    if name is not None:
        event_dict.setdefault("logger", name)
    return event_dict


class _StdlibHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marker type so a second setup_logging call replaces, not duplicates, our root handler."""


class AccessSink:
    """Where JSON access lines go without the structlog pipeline (the access log runs per request).

    Writing to the process's stdout is buffered and flushed from the event loop a few milliseconds
    later, so neither the rendering nor the write() sits between a response and the next request.
    A buffered line is kept as its fields and rendered at the flush: rendering a batch in one
    tight loop costs a fraction of rendering each line between two requests' work.
    """

    def __init__(self, out: TextIO, levelno: int, *, buffered: bool) -> None:
        self.out = out
        self.levelno = levelno
        self.buffered = buffered
        self._pending: list[tuple[Callable[[Any], str], Any]] = []
        self._scheduled = False

    def write_later(self, render: Callable[[Any], str], fields: Any) -> None:
        """``render(fields)`` is the line; it runs now when unbuffered, else at the next flush."""
        if not self.buffered:
            self.out.write(render(fields))
            return
        self._pending.append((render, fields))
        if len(self._pending) >= 256:
            self.flush()
        elif not self._scheduled:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._scheduled = True
            loop.call_later(0.02, self.flush)

    def flush(self) -> None:
        self._scheduled = False
        if self._pending:
            pending, self._pending = self._pending, []
            data = "".join([render(fields) for render, fields in pending])
            try:
                self.out.write(data)
                self.out.flush()
            except (OSError, ValueError):
                pass  # stdout closed by the launcher: nothing sensible to do with a log line


_access_sink: AccessSink | None = None


def access_sink() -> AccessSink | None:
    """The JSON access sink, or None when lines are rendered for a terminal."""
    return _access_sink


def setup_logging(*, json: bool | None = None, level: str = "info", stream: TextIO | None = None) -> None:
    """Configure structlog and the stdlib root logger.

    ``json=None`` picks JSON when the output is not a terminal. ``stream`` defaults to stdout and
    exists for tests.
    """
    try:
        levelno = _LEVELS[level.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown log level {level!r} (use one of {', '.join(_LEVELS)})") from None
    out = stream if stream is not None else sys.stdout
    as_json = (not _is_tty(out)) if json is None else json
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        timestamper,
    ]
    tail: list[Processor] = [
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        redact_event,
        tee_main_log,
    ]
    renderer = _renderer(as_json, out)
    global _access_sink
    if _access_sink is not None:
        _access_sink.flush()
    _access_sink = AccessSink(out, levelno, buffered=stream is None) if as_json else None
    if _access_sink is not None and _access_sink.buffered:
        atexit.register(_access_sink.flush)
    structlog.configure(
        processors=[*shared, _add_logger_name, *tail, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(levelno),
        logger_factory=_NamedWriteLoggerFactory(out),
        context_class=dict,
        # Not cached: a cached logger keeps the stream and level it saw first, and reconfiguring
        # (tests, a level change on reload) must take effect for module-level loggers too.
        cache_logger_on_first_use=False,
    )

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tail, renderer],
    )
    handler = _StdlibHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StdlibHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(levelno)

