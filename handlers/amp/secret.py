"""The key the Amp upstream receives (``secret.go``).

First a per-client entry of ``ampcode.upstream-api-keys`` (the client key that authenticated the
request -> its upstream key; the first entry naming a client key wins), then
``ampcode.upstream-api-key``, then the ``AMP_API_KEY`` environment variable, then the Amp CLI's
own secrets file (``~/.local/share/amp/secrets.json``, entry ``apiKey@https://ampcode.com/``),
which is read at most every five minutes. A file that cannot be read or parsed means no key: the
request still goes upstream, without one.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import structlog

from quotio_gateway.config.models import AmpCode
from quotio_gateway.gostrings import go_trim

log = structlog.get_logger("handlers.amp.secret")

ENV_KEY = "AMP_API_KEY"
SECRETS_ENTRY = "apiKey@https://ampcode.com/"
FILE_CACHE_SECONDS = 300.0


def secrets_file() -> Path:
    return Path.home() / ".local" / "share" / "amp" / "secrets.json"


def client_key_table(settings: AmpCode) -> dict[str, str]:
    table: dict[str, str] = {}
    for entry in settings.upstream_api_keys:
        upstream = go_trim(entry.upstream_api_key)
        if not upstream:
            continue
        for client in entry.api_keys:
            key = go_trim(client)
            if key and key not in table:
                table[key] = upstream
    return table


class UpstreamSecret:
    """Resolves the upstream key per request; holds the file cache between requests."""

    def __init__(self) -> None:
        self._file_value = ""
        self._file_until = 0.0
        self._explicit_seen: str | None = None
        self._table_for: object = None
        self._table: dict[str, str] = {}

    def key_for(self, settings: AmpCode, client_key: str | None) -> str:
        if client_key:
            if self._table_for is not settings.upstream_api_keys:
                self._table = client_key_table(settings)
                self._table_for = settings.upstream_api_keys
            mapped = self._table.get(client_key)
            if mapped:
                return mapped
        explicit = go_trim(settings.upstream_api_key)
        if explicit != self._explicit_seen:
            # A changed config key drops the cached file value, as the legacy's reload does.
            self._explicit_seen = explicit
            self._file_until = 0.0
        if explicit:
            return explicit
        env = go_trim(os.environ.get(ENV_KEY, ""))
        if env:
            return env
        now = time.monotonic()
        if now >= self._file_until:
            self._file_value = _read_secrets_file(secrets_file())
            self._file_until = now + FILE_CACHE_SECONDS
        return self._file_value


def _read_secrets_file(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return ""
    except OSError as exc:
        log.warning("amp.secret.unreadable", path=str(path), error=type(exc).__name__)
        return ""
    try:
        secrets = json.loads(raw)
    except ValueError:
        log.warning("amp.secret.unparsable", path=str(path))
        return ""
    if secrets is None:
        return ""
    # The legacy decodes into map[string]string: any other shape is a parse failure.
    if not isinstance(secrets, dict) or not all(v is None or isinstance(v, str) for v in secrets.values()):
        log.warning("amp.secret.unparsable", path=str(path))
        return ""
    return go_trim(secrets.get(SECRETS_ENTRY) or "")
