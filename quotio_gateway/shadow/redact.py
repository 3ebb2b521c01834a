"""Cleaning of everything the shadow subsystem stores: headers, bodies, paths and diff text.

Comparison always sees the real bytes; only what is written to SQLite or shown by the API passes
through here (Scientist's ``clean``, kept separate from ``compare``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson

REDACTED = "[redacted]"

_SECRET_HEADERS = frozenset({
    "authorization", "proxy-authorization", "x-api-key", "x-goog-api-key", "x-management-key",
    "cookie", "set-cookie",
})

# Compared after lower-casing and turning "-" into "_".
_SECRET_KEYS = frozenset({
    "api_key", "apikey", "x_api_key", "x_goog_api_key", "access_token", "refresh_token", "id_token",
    "secret_key", "secret", "client_secret", "token", "password", "passwd", "key", "cookie",
    "authorization", "proxy_authorization", "management_key", "secret_access_key", "session_token",
    "private_key",
    # Lists of secrets: CLIProxyAPI's own ``api-keys`` (config and management bodies).
    "api_keys", "apikeys",
})
_SECRET_SUFFIXES = ("_token", "_secret", "_password", "_api_key", "_apikey", "_api_keys")

# Strings that look like credentials wherever they appear: OpenAI/Anthropic style keys, Google API
# keys and OAuth access tokens, GitHub tokens, JWTs, bearer credentials.
_TOKEN_PATTERNS = re.compile(
    r"sk-[A-Za-z0-9_\-]{8,}"
    r"|AIza[0-9A-Za-z_\-]{20,}"
    r"|ya29\.[0-9A-Za-z_\-.]+"
    r"|gh[pousr]_[A-Za-z0-9]{20,}"
    r"|eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*"
    r"|(?<=Bearer )[A-Za-z0-9_\-.~+/=]{8,}",
)

_KEY_ALTERNATION = "|".join(
    sorted((re.escape(k).replace("_", "[_-]") for k in _SECRET_KEYS), key=len, reverse=True))
# "key": "value" pairs inside text that is not one JSON document (SSE streams, cut-off bodies).
_JSON_PAIR = re.compile(
    r'("(?:[A-Za-z0-9_\-]*(?:_token|_secret|_password|_api_key)|' + _KEY_ALTERNATION + r')"\s*:\s*)'
    r'"(?:[^"\\]|\\.)*"',
    re.IGNORECASE,
)
# "api-keys": [...] lists inside text that is not one JSON document (cut-off bodies, diff text).
_JSON_LIST = re.compile(r'("(?:[A-Za-z0-9_\-]*api[_-]?keys)"\s*:\s*\[)[^\]]*(\])', re.IGNORECASE)
# key=value pairs (query strings, form bodies, cookies in text).
_FORM_PAIR = re.compile(r"(?<![A-Za-z0-9_\-])((?:" + _KEY_ALTERNATION + r")=)[^&\s\"';]+", re.IGNORECASE)


# The literal secrets of the running config (its API keys of every kind), so a key an upstream
# quotes back in an error ("Incorrect API key provided: gsk_…") is blanked whatever it looks like.
_known_secrets: re.Pattern[str] | None = None


def remember_secrets(values: Iterable[str]) -> None:
    """Blank these exact strings from now on (the config's keys; short ones would blank words)."""
    global _known_secrets
    secrets = sorted({v for v in values if isinstance(v, str) and len(v) >= 8}, key=len, reverse=True)
    _known_secrets = re.compile("|".join(re.escape(v) for v in secrets)) if secrets else None


def secrets_in(document: Any) -> list[str]:
    """Every string held under a secret-named key (``api-key``, ``api-keys``, ``secret-key``, …)."""
    found: list[str] = []
    if isinstance(document, dict):
        for key, item in document.items():
            if is_secret_key(str(key)):
                found += [v for v in (item if isinstance(item, list) else [item]) if isinstance(v, str)]
            # ``claude-api-key`` names a list of entries, not a key: look inside as well.
            found += secrets_in(item)
    elif isinstance(document, list):
        for item in document:
            found += secrets_in(item)
    return found


def _scrub(text: str) -> str:
    if _known_secrets is not None:
        text = _known_secrets.sub(REDACTED, text)
    return _TOKEN_PATTERNS.sub(REDACTED, text)


def is_secret_key(name: str) -> bool:
    normalized = name.lower().replace("-", "_")
    return normalized in _SECRET_KEYS or normalized.endswith(_SECRET_SUFFIXES)


def redact_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, REDACTED if name.lower() in _SECRET_HEADERS else redact_text(value))
            for name, value in headers]


def redact_text(text: str) -> str:
    text = _JSON_PAIR.sub(lambda m: f'{m.group(1)}"{REDACTED}"', text)
    text = _JSON_LIST.sub(lambda m: f'{m.group(1)}"{REDACTED}"{m.group(2)}', text)
    text = _FORM_PAIR.sub(lambda m: m.group(1) + REDACTED, text)
    return _scrub(text)


def redact_value(value: Any) -> Any:
    """Deep copy of a parsed JSON value with secrets replaced."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if is_secret_key(str(key)) and item is not None and not isinstance(item, (int, float, bool)):
                # A list keeps its length, so a diff still shows one key more or less.
                out[key] = [REDACTED] * len(item) if isinstance(item, list) else REDACTED
            else:
                out[key] = redact_value(item)
        return out
    if isinstance(value, list):
        return [redact_value(item) for item in value]
    if isinstance(value, str):
        return _scrub(value)
    return value


def redact_path(path: str) -> str:
    """Request path with secret query parameters (Gemini's ``?key=``) blanked."""
    parts = urlsplit(path)
    if not parts.query:
        return path
    pairs = [(k, REDACTED if is_secret_key(k) else redact_text(v))
             for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(pairs, safe="[]")))


def truncate(text: str, limit: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    head = encoded[:limit].decode("utf-8", errors="ignore")
    return f"{head}…[truncated {len(encoded) - limit} bytes]"


def redact_body(body: bytes, limit: int) -> str:
    """Readable, secret-free text of a body, at most ``limit`` bytes plus a truncation marker."""
    if not body:
        return ""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", errors="replace")
        cleaned = "\n".join(_redact_line(line) for line in text.split("\n"))
    else:
        cleaned = orjson.dumps(redact_value(parsed)).decode()
    return truncate(cleaned, limit)


def _redact_line(line: str) -> str:
    # SSE data lines usually hold one JSON document each; clean those structurally.
    prefix, sep, rest = line.partition("data:")
    if sep and not prefix.strip() and rest.strip().startswith(("{", "[")):
        try:
            parsed = orjson.loads(rest)
        except orjson.JSONDecodeError:
            pass
        else:
            return prefix + sep + " " + orjson.dumps(redact_value(parsed)).decode()
    return redact_text(line)
