"""Vertex AI: import a Google service-account key as a credential file, and mint access tokens from it.

Facts: reference cliproxyapi-providers.md §5 and cliproxyapi-management.md (``/vertex/import``),
internal/auth/vertex/{vertex_credentials.go,keyutil.go}, internal/cmd/vertex_import.go at 9b72ea9ef.

Import: the key must be a JSON object with ``private_key`` (an RSA key, PEM, PKCS#1 or PKCS#8; a
key mangled by copy-paste is rebuilt from its base64 body) and ``project_id``. The key is stored
re-encoded as PKCS#1 PEM, as the legacy does, inside ``vertex-<project>.json`` with the fields of
``VertexCredentialStorage``: ``service_account``, ``project_id``, ``email``, ``location``, ``type``.

Tokens: an RS256 JWT signed with the key (``iss`` = client_email, ``scope`` cloud-platform,
``aud`` = token URI, one hour), exchanged with the JWT-bearer grant. Tokens live only in memory
(:class:`VertexTokenMinter`); nothing is written back, as in the legacy.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import structlog
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from handlers.auth.credential import Credential, new_credential
from handlers.auth.stores import TokenStore
from handlers.logins.device_http import TokenEndpointError, call_endpoint, require_token_json
from handlers.logins.device_poll import as_int, as_str
from handlers.logins.endpoints import ProviderEndpoints, default_endpoints
from handlers.logins.token_cache import CredentialTokenCache

log = structlog.get_logger("handlers.logins.vertex")

DEFAULT_LOCATION = "us-central1"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME = 3600
# A minted token is replaced when fewer than this many seconds remain (oauth2's expiry delta).
TOKEN_EXPIRY_SKEW = 10.0

_ANSI_ESCAPE = re.compile(r"\x1b(\][^\x07\x1b]*(\x07|\x1b\\)?|\[[^A-Za-z]*[A-Za-z]?)?")
_BASE64_CHARS = re.compile(r"[^A-Za-z0-9+/=]")


class ServiceAccountError(ValueError):
    """A key file we refuse; ``error`` is the management API's error word, ``str()`` the detail.

    ``error`` values: ``invalid json``, ``invalid service account``, ``project_id missing`` (the
    ``{"error": ...}`` strings of ``POST /v0/management/vertex/import``).
    """

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = error


def _clean_pem_text(raw: str) -> str:
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = _ANSI_ESCAPE.sub("", text)
    # Invalid UTF-8 cannot reach here (json decoding rejects it); stray replacement chars can.
    return text.replace("\ufffd", "").strip()


def _rebuild_pem(text: str) -> bytes:
    """Recover a PEM whose line breaks or spacing were damaged (pasted into a terminal or form)."""
    kind = "RSA PRIVATE KEY" if "RSA PRIVATE KEY" in text else "PRIVATE KEY"
    header, footer = f"-----BEGIN {kind}-----", f"-----END {kind}-----"
    start, end = text.find(header), text.find(footer)
    if start < 0 or end <= start:
        raise ServiceAccountError("invalid service account", "private_key is not valid pem: missing pem markers")
    body = _BASE64_CHARS.sub("", text[start + len(header):end])
    if not body:
        raise ServiceAccountError("invalid service account", "private_key is not valid pem: empty base64 payload")
    try:
        der = base64.b64decode(body, validate=True)
    except ValueError:
        raise ServiceAccountError("invalid service account",
                                  "private_key is not valid pem: base64 decode failed") from None
    encoded = base64.b64encode(der).decode()
    lines = [encoded[i:i + 64] for i in range(0, len(encoded), 64)]
    return ("\n".join([header, *lines, footer]) + "\n").encode()


def _load_rsa_key(pem: bytes) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ServiceAccountError("invalid service account",
                                  f"private_key is not a readable key ({type(exc).__name__})") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ServiceAccountError("invalid service account", "private_key is not an RSA key")
    return key


def normalise_private_key(raw: str) -> str:
    """The key as PKCS#1 PEM (``BEGIN RSA PRIVATE KEY``), whatever RSA form it arrived in."""
    text = _clean_pem_text(raw)
    pem = text.encode()
    if "-----BEGIN" not in text or "\n" not in text:
        pem = _rebuild_pem(text)
    try:
        key = _load_rsa_key(pem)
    except ServiceAccountError:
        key = _load_rsa_key(_rebuild_pem(text))
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


def parse_service_account(data: bytes) -> dict[str, Any]:
    """Validate a key file's bytes and return the object with its private key normalised."""
    try:
        parsed = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ServiceAccountError("invalid json", "service account file is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        # Only the parser's position: the text holds a private key.
        raise ServiceAccountError("invalid json", f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(parsed, dict):
        raise ServiceAccountError("invalid json", "service account file is not a JSON object")
    private_key = parsed.get("private_key")
    if not isinstance(private_key, str) or not private_key.strip():
        raise ServiceAccountError("invalid service account", "service account missing private_key")
    normalised = dict(parsed)
    normalised["private_key"] = normalise_private_key(private_key)
    if not as_str(normalised.get("project_id")):
        raise ServiceAccountError("project_id missing", "project_id missing in service account json")
    return normalised


def sanitize_project(project_id: str) -> str:
    return project_id.strip().replace("/", "_").replace("\\", "_").replace(":", "_").replace(" ", "-")


def vertex_file_name(project_id: str) -> str:
    return f"vertex-{sanitize_project(project_id)}.json"


def vertex_credential(service_account: dict[str, Any], location: str = "") -> Credential:
    """The file the legacy writes for an imported key (VertexCredentialStorage)."""
    project_id = as_str(service_account.get("project_id"))
    return new_credential(vertex_file_name(project_id), {
        "service_account": service_account,
        "project_id": project_id,
        "email": as_str(service_account.get("client_email")),
        "location": location.strip() or DEFAULT_LOCATION,
        "type": "vertex",
    })


async def import_service_account(store: TokenStore, data: bytes, location: str = "") -> Credential:
    """Validate, then save; a refused key never touches an existing credential file."""
    service_account = parse_service_account(data)
    if not as_str(service_account.get("client_email")):
        log.warning("vertex import: client_email missing in service account json")
    credential = await store.save(vertex_credential(service_account, location))
    log.info("vertex service account imported", file=credential.file_name)
    return credential


def _read_key_file(raw_path: str) -> bytes:
    return Path(raw_path).expanduser().read_bytes()


async def import_service_account_file(store: TokenStore, path: str | Path, location: str = "") -> Credential:
    """``-vertex-import FILE``: read the key file and import it."""
    raw_path = str(path).strip()
    try:
        data = await asyncio.to_thread(_read_key_file, raw_path)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ServiceAccountError("invalid json", f"cannot read {raw_path}: {reason}") from None
    try:
        return await import_service_account(store, data, location)
    except ServiceAccountError as exc:
        if exc.error != "invalid json":
            raise
        # A bare parser position ("Expecting value at line 1 column 1") does not tell someone at a
        # terminal what is wrong; name it as the legacy command does (cmd/vertex_import.go:42).
        raise ServiceAccountError(exc.error, f"invalid service account json: {exc}") from None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign_assertion(service_account: dict[str, Any], audience: str, now: float,
                   scope: str = CLOUD_PLATFORM_SCOPE) -> str:
    """The RS256 JWT a service account presents to Google's token endpoint."""
    email = as_str(service_account.get("client_email"))
    if not email:
        raise ServiceAccountError("invalid service account", "service account missing client_email")
    key = _load_rsa_key(normalise_private_key(as_str(service_account.get("private_key"))).encode())
    header: dict[str, Any] = {"alg": "RS256", "typ": "JWT"}
    if key_id := as_str(service_account.get("private_key_id")):
        header["kid"] = key_id
    # golang.org/x/oauth2's jws backdates iat by 10 s for clocks ahead of Google's, and writes
    # the claims in its struct order (iss, scope, aud, exp, iat).
    issued = int(now - 10)
    claims = {"iss": email, "scope": scope, "aud": audience, "exp": issued + ASSERTION_LIFETIME, "iat": issued}
    signing_input = ".".join(_b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims))
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64url(signature)}"


def token_url_for(service_account: dict[str, Any], endpoints: ProviderEndpoints) -> str:
    """A configured ``token-url`` wins; otherwise the key's own ``token_uri``, as Google's library does."""
    if endpoints.token_url != default_endpoints("vertex").token_url:
        return endpoints.token_url
    return as_str(service_account.get("token_uri")) or endpoints.token_url


@dataclass(frozen=True)
class VertexAccessToken:
    token: str = field(repr=False)
    expires_at: float


async def mint_access_token(session: aiohttp.ClientSession, endpoints: ProviderEndpoints,
                            service_account: dict[str, Any], *, now: float, proxy: str = "") -> VertexAccessToken:
    url = token_url_for(service_account, endpoints)
    assertion = sign_assertion(service_account, url, now)
    # golang.org/x/oauth2's token request, as the legacy's google.CredentialsFromJSON sends it: no Accept.
    answer = await call_endpoint(session, "POST", url, form={"grant_type": JWT_BEARER_GRANT, "assertion": assertion},
                                 proxy=proxy, accept=None)
    body = require_token_json(answer, url, "vertex service-account token")
    token = as_str(body.get("access_token"))
    if not token:
        raise TokenEndpointError("bad_response", "vertex service-account token failed: no access_token in the answer")
    lifetime = as_int(body.get("expires_in")) or ASSERTION_LIFETIME
    return VertexAccessToken(token, now + lifetime)


class VertexTokenMinter(CredentialTokenCache[VertexAccessToken]):
    """Access tokens per Vertex credential, minted on demand and kept until shortly before expiry."""

    expiry_margin = TOKEN_EXPIRY_SKEW

    def _source(self, credential: Credential) -> str:
        # A rewritten credential file (a new key) must not keep serving the old key's token.
        return credential.revision or ""

    async def _obtain(self, credential: Credential, source: str) -> tuple[VertexAccessToken, float]:
        service_account = credential.metadata.get("service_account")
        if not isinstance(service_account, dict):
            raise ServiceAccountError("invalid service account", "credential has no service_account object")
        token = await mint_access_token(self.session, self.endpoints, service_account,
                                        now=self.wall_clock(), proxy=credential.proxy_url)
        return token, token.expires_at
