"""One credential file from CLIProxyAPI's auth-dir: the parsed view plus the untouched JSON object.

CLIProxyAPI keeps the whole JSON object as the credential's metadata and reads a few well-known
keys from it (sdk/auth/filestore.go, internal/watcher/synthesizer/file.go,
sdk/cliproxy/auth/types.go at 9b72ea9ef). We do the same: ``metadata`` is the file's object with
every key kept, so a rewrite never drops a field the Quotio app or a newer CLIProxyAPI added.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

# File `type` values CLIProxyAPI v6.7.x and CLIProxyAPIPlus write. `gemini` is the on-disk name of
# the provider the rest of the proxy calls `gemini-cli`.
KNOWN_TYPES = frozenset({
    "gemini", "gemini-cli", "claude", "codex", "qwen", "iflow", "antigravity", "vertex", "aistudio",
    "github-copilot", "kiro",
})
PROVIDER_RENAMES = {"gemini": "gemini-cli"}

# Lookup order of conductor.go / types.go `expireKeys`; a nested `token`/`Token` object is tried
# after the top level, as Go does for Gemini's oauth2 token.
EXPIRY_KEYS = ("expired", "expire", "expires_at", "expiresAt", "expiry", "expires")
# conductor.go:2077 authLastRefreshTimestamp and auth_files.go:41 lastRefreshKeys, in that order.
LAST_REFRESH_KEYS = ("last_refresh", "lastRefresh", "last_refreshed_at", "lastRefreshedAt")

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)
_PLAIN_LAYOUTS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")
_MILLIS_THRESHOLD = 1_000_000_000_000
_KIRO_UNTYPED_METHODS = ("builder-id", "social")


class CredentialError(ValueError):
    """A credential file that cannot be loaded; ``reason`` is a stable code for logs and tests."""

    def __init__(self, file_name: str, reason: str, detail: str) -> None:
        super().__init__(f"{file_name}: {detail}")
        self.file_name = file_name
        self.reason = reason
        self.detail = detail


def validate_file_name(name: str) -> str:
    """Accept the names CLIProxyAPI and the Quotio app accept: a plain ``*.json`` file name."""
    if not name or name != name.strip():
        raise ValueError(f"invalid credential file name {name!r}: empty or padded")
    if "/" in name or "\\" in name or name in {".", ".."}:
        raise ValueError(f"invalid credential file name {name!r}: must not contain a path")
    if name.startswith("."):
        raise ValueError(f"invalid credential file name {name!r}: hidden files are not credentials")
    if not name.lower().endswith(".json"):
        raise ValueError(f"invalid credential file name {name!r}: must end with .json")
    return name


def stable_index(seed: str) -> str:
    """CLIProxyAPI's ``stableAuthIndex``: 8 bytes of SHA-256 of the seed, hex. ``EnsureIndex``
    seeds it with ``file:<name>``, else ``api_key:<key>``, else ``id:<id>``."""
    return hashlib.sha256(seed.encode()).hexdigest()[:16]


def auth_index(file_name: str) -> str:
    """CLIProxyAPI's `Auth.EnsureIndex` for file credentials."""
    return stable_index(f"file:{file_name.strip()}")


def normalise_provider(type_value: str) -> str:
    provider = type_value.strip().lower()
    return PROVIDER_RENAMES.get(provider, provider)


def _unix(raw: int) -> datetime | None:
    if raw <= 0:
        return None
    # Same heuristic as Go's normaliseUnix: values past 1e12 are milliseconds.
    if raw > _MILLIS_THRESHOLD:
        return datetime.fromtimestamp(raw / 1000, tz=UTC)
    return datetime.fromtimestamp(raw, tz=UTC)


def parse_time_value(value: Any) -> datetime | None:
    """RFC3339 strings, ``YYYY-MM-DD HH:MM[:SS]`` (UTC), or unix seconds/milliseconds as number or text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return _unix(value)
    if isinstance(value, float):
        return _unix(int(value))
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    match = _RFC3339.match(text)
    if match:
        fraction = match.group(7) or ""
        zone = match.group(8)
        base = text[: match.start(7)] if fraction else text[: match.start(8)]
        stamp = datetime.strptime(base.replace("t", "T"), "%Y-%m-%dT%H:%M:%S")
        if fraction:
            stamp = stamp.replace(microsecond=int(fraction[1:7].ljust(6, "0")))
        if zone in {"Z", "z"}:
            return stamp.replace(tzinfo=UTC)
        sign = 1 if zone[0] == "+" else -1
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])) * sign
        return (stamp - offset).replace(tzinfo=UTC)
    for layout in _PLAIN_LAYOUTS:
        try:
            return datetime.strptime(text, layout).replace(tzinfo=UTC)
        except ValueError:
            continue
    if re.fullmatch(r"[+-]?\d+", text):
        return _unix(int(text))
    return None


def expiry_from_metadata(metadata: dict[str, Any]) -> datetime | None:
    for key in EXPIRY_KEYS:
        if key in metadata:
            stamp = parse_time_value(metadata[key])
            if stamp is not None:
                return stamp
    for nested_key in ("token", "Token"):
        nested = metadata.get(nested_key)
        if isinstance(nested, dict):
            stamp = expiry_from_metadata(nested)
            if stamp is not None:
                return stamp
    return None


def _first_time(metadata: dict[str, Any], keys: tuple[str, ...]) -> datetime | None:
    for key in keys:
        stamp = parse_time_value(metadata.get(key))
        if stamp is not None:
            return stamp
    return None


def _clean_prefix(raw: Any) -> str:
    # synthesizer/file.go: trimmed, outer slashes dropped, and a prefix still holding `/` is ignored.
    if not isinstance(raw, str):
        return ""
    trimmed = raw.strip().strip("/")
    return "" if "/" in trimmed else trimmed


def encode_metadata(metadata: dict[str, Any]) -> bytes:
    """Serialise like Go's ``json.Marshal(map[string]any)``: compact, sorted keys, HTML-escaped."""
    text = json.dumps(metadata, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    # These characters only ever occur inside JSON strings, so a plain replace is exact.
    text = (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    return text.encode("utf-8")


def content_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Credential:
    """A loaded credential. ``revision`` is the store's opaque version tag of what was read."""

    file_name: str
    metadata: dict[str, Any] = field(repr=False)
    type: str
    provider: str
    email: str
    proxy_url: str
    prefix: str
    expiry: datetime | None
    last_refresh: datetime | None
    revision: str | None = None

    @property
    def auth_index(self) -> str:
        return auth_index(self.file_name)

    @property
    def label(self) -> str:
        # CLIProxyAPIPlus watcher.go SnapshotCoreAuths: a Kiro file with a `provider` string
        # ("Google", "AWS", ...) is labelled kiro-<provider>, ahead of its email.
        if self.provider == "kiro":
            kiro_provider = self.metadata.get("provider")
            if isinstance(kiro_provider, str) and kiro_provider:
                return f"kiro-{kiro_provider.lower()}"
        return self.email or self.provider

    def is_expired(self, now: datetime | None = None) -> bool:
        if self.expiry is None:
            return False
        return self.expiry <= (now or datetime.now(UTC))

    def to_bytes(self) -> bytes:
        return encode_metadata(self.metadata)

    def with_metadata(self, **updates: Any) -> Credential:
        """A copy with keys set (``None`` removes a key); unknown keys stay; parsed fields follow."""
        merged = dict(self.metadata)
        for key, value in updates.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        return replace(credential_from_metadata(self.file_name, merged), revision=self.revision)

    def with_revision(self, revision: str | None) -> Credential:
        return replace(self, revision=revision)


def credential_from_metadata(file_name: str, metadata: dict[str, Any]) -> Credential:
    try:
        validate_file_name(file_name)
    except ValueError as exc:
        raise CredentialError(file_name, "bad_name", str(exc)) from None
    raw_type = metadata.get("type")
    if (not isinstance(raw_type, str) or not raw_type) and metadata.get("auth_method") in _KIRO_UNTYPED_METHODS:
        # CLIProxyAPIPlus watcher.go SnapshotCoreAuths: Kiro token files carry no `type`; one with
        # auth_method builder-id or social is a Kiro credential.
        raw_type = "kiro"
    if not isinstance(raw_type, str) or not raw_type.strip():
        raise CredentialError(file_name, "missing_type", "no string field 'type'")
    type_value = raw_type.strip().lower()
    if type_value not in KNOWN_TYPES:
        raise CredentialError(file_name, "unknown_type", f"unknown credential type {raw_type.strip()!r}")
    email = metadata.get("email")
    proxy_url = metadata.get("proxy_url")
    return Credential(
        file_name=file_name,
        metadata=metadata,
        type=type_value,
        provider=normalise_provider(type_value),
        email=email if isinstance(email, str) else "",
        proxy_url=proxy_url.strip() if isinstance(proxy_url, str) else "",
        prefix=_clean_prefix(metadata.get("prefix")),
        expiry=expiry_from_metadata(metadata),
        last_refresh=_first_time(metadata, LAST_REFRESH_KEYS),
    )


def parse_credential(file_name: str, data: bytes, revision: str | None = None) -> Credential:
    """Parse one file's bytes; raises ``CredentialError`` with reason empty/corrupt/not_object/
    missing_type/unknown_type."""
    if not data.strip():
        raise CredentialError(file_name, "empty", "file is empty")
    try:
        # Decoded first: json.loads on bytes would guess UTF-16/32, and CLIProxyAPI accepts UTF-8 only.
        metadata = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise CredentialError(file_name, "corrupt", "not valid JSON (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        # Only the parser's message and position: the text itself may hold tokens.
        raise CredentialError(file_name, "corrupt", f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(metadata, dict):
        raise CredentialError(file_name, "not_object", "top level is not a JSON object")
    return credential_from_metadata(file_name, metadata).with_revision(revision)


def new_credential(file_name: str, metadata: dict[str, Any]) -> Credential:
    """Build a credential to save (a login result, an upload); validates name and type."""
    return credential_from_metadata(file_name, dict(metadata))


def configured_proxy(config: Any) -> str:
    """config.yaml's global ``proxy-url`` ("" for none, or for a config object without one)."""
    return str(getattr(config, "proxy_url", "") or "").strip()


def with_default_proxy(credential: Credential, default: str) -> Credential:
    """The credential as its calls go out: its own ``proxy_url``, else config.yaml's global
    ``proxy-url`` (the legacy takes the auth's proxy, then the config's: proxy_helpers.go:36-45)."""
    default = default.strip()
    if credential.proxy_url or not default:
        return credential
    return replace(credential, proxy_url=default)
