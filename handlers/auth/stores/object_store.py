"""S3-compatible token store (OBJECTSTORE_*), as CLIProxyAPI's internal/store/objectstore.go lays it out.

Objects ``auths/<file name>`` in OBJECTSTORE_BUCKET, path-style addressing, region ``us-east-1``
(minio-go's default), the bucket created when missing. The endpoint is ``host[:port][/path]`` (TLS)
or a full ``http://`` / ``https://`` URL, the same rule as cmd/server/main.go.

Requests are signed here with AWS Signature Version 4 over aiohttp; no SDK is needed for six calls.
The revision of a credential is its object ETag, and a conditional save is a PUT with ``If-Match``,
which S3 (since 2024), MinIO and moto enforce atomically.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from handlers.auth.credential import Credential, CredentialError, parse_credential, validate_file_name
from handlers.auth.stores import (
    LoadResult,
    RetryPolicy,
    StoreConfigError,
    StoreConflict,
    StoreError,
    StoreUnavailable,
    TokenStore,
    skip_bad,
)

AUTH_PREFIX = "auths/"
REGION = "us-east-1"
SERVICE = "s3"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


class TransientHTTPError(Exception):
    """A 5xx or 429 from the object store: worth another try."""


def parse_endpoint(endpoint: str) -> str:
    """Base URL from OBJECTSTORE_ENDPOINT: no scheme means HTTPS; only http and https are allowed."""
    text = endpoint.strip()
    if "://" not in text:
        return f"https://{text.rstrip('/')}"
    parts = urlsplit(text)
    if parts.scheme.lower() not in {"http", "https"}:
        raise StoreConfigError(f"object store: unsupported endpoint scheme {parts.scheme!r} (use http or https)")
    if not parts.netloc:
        raise StoreConfigError(f"object store: endpoint {endpoint!r} has no host")
    path = parts.path.rstrip("/")
    return f"{parts.scheme.lower()}://{parts.netloc}{path}"


def _uri_encode(text: str, *, keep_slash: bool) -> str:
    return quote(text, safe="-_.~/" if keep_slash else "-_.~")


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def sign_v4(method: str, url: URL, headers: dict[str, str], payload_sha256: str, *, access_key: str,
            secret_key: str, now: datetime, region: str = REGION, service: str = SERVICE) -> dict[str, str]:
    """Headers for a SigV4-signed request (Authorization, x-amz-date, x-amz-content-sha256, host).

    ``url`` must already be percent-encoded the way it goes on the wire.
    """
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    signed = {k.lower(): " ".join(v.strip().split()) for k, v in headers.items()}
    signed["host"] = url.raw_authority
    signed["x-amz-date"] = amz_date
    signed["x-amz-content-sha256"] = payload_sha256
    names = sorted(signed)
    query = sorted((_uri_encode(k, keep_slash=False), _uri_encode(v, keep_slash=False))
                   for k, v in url.query.items())
    canonical = "\n".join([
        method,
        url.raw_path or "/",
        "&".join(f"{k}={v}" for k, v in query),
        "".join(f"{name}:{signed[name]}\n" for name in names),
        ";".join(names),
        payload_sha256,
    ])
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), day), region), service), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    out = {k: v for k, v in headers.items()}
    out["x-amz-date"] = amz_date
    out["x-amz-content-sha256"] = payload_sha256
    out["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
                            f"SignedHeaders={';'.join(names)}, Signature={signature}")
    return out


def _error_code(body: bytes) -> str:
    try:
        node = ET.fromstring(body).find("Code")
    except ET.ParseError:
        return ""
    return node.text or "" if node is not None else ""


class ObjectTokenStore(TokenStore):
    kind = "object"

    def __init__(self, endpoint: str, *, bucket: str, access_key: str, secret_key: str,
                 retry: RetryPolicy | None = None, timeout: float = 10.0, concurrency: int = 32) -> None:
        super().__init__(retry)
        self.base_url = parse_endpoint(endpoint)
        self.bucket = bucket.strip()
        if not self.bucket or not access_key.strip() or not secret_key.strip():
            raise StoreConfigError("object store: bucket, access key and secret key are required")
        self._access_key = access_key.strip()
        self._secret_key = secret_key.strip()
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 5.0))
        self._session: aiohttp.ClientSession | None = None
        self._fetch_limit = asyncio.Semaphore(concurrency)

    def _url(self, key: str = "", query: dict[str, str] | None = None) -> URL:
        path = f"/{_uri_encode(self.bucket, keep_slash=False)}"
        if key:
            path += "/" + _uri_encode(key, keep_slash=True)
        url = URL(f"{self.base_url}{path}", encoded=True)
        if query:
            encoded = "&".join(f"{_uri_encode(k, keep_slash=False)}={_uri_encode(v, keep_slash=False)}"
                               for k, v in sorted(query.items()))
            url = URL(f"{url}?{encoded}", encoded=True)
        return url

    async def _request(self, method: str, key: str = "", *, query: dict[str, str] | None = None,
                       body: bytes = b"", headers: dict[str, str] | None = None) -> tuple[int, CIMultiDict[str], bytes]:
        if self._session is None:
            raise StoreUnavailable("object store: not started")
        url = self._url(key, query)
        signed = sign_v4(method, url, headers or {}, hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256,
                         access_key=self._access_key, secret_key=self._secret_key, now=datetime.now(UTC))
        async with self._session.request(method, url, data=body or None, headers=signed) as resp:
            data = await resp.read()
            if resp.status >= 500 or resp.status == 429:
                raise TransientHTTPError(f"HTTP {resp.status} {_error_code(data)}".strip())
            return resp.status, CIMultiDict(resp.headers), data

    async def _call(self, what: str, method: str, key: str = "", *, query: dict[str, str] | None = None,
                    body: bytes = b"", headers: dict[str, str] | None = None) -> tuple[int, CIMultiDict[str], bytes]:
        transient = (aiohttp.ClientConnectionError, TimeoutError, OSError, TransientHTTPError)
        return await self._retrying(
            what, lambda: self._request(method, key, query=query, body=body, headers=headers), transient)

    def _fail(self, what: str, status: int, body: bytes) -> StoreError:
        return StoreError(f"object store: {what} failed: HTTP {status} {_error_code(body)}".strip())

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self._timeout, auto_decompress=False)
        try:
            status, _, body = await self._call("check bucket", "HEAD")
            if status == 404:
                status, _, body = await self._call("create bucket", "PUT")
                if status not in (200, 409):
                    raise self._fail("create bucket", status, body)
            elif status != 200:
                raise self._fail("check bucket", status, body)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def _list_keys(self) -> list[str]:
        keys: list[str] = []
        token = ""
        while True:
            query = {"list-type": "2", "prefix": AUTH_PREFIX}
            if token:
                query["continuation-token"] = token
            status, _, body = await self._call("list", "GET", query=query)
            if status != 200:
                raise self._fail("list", status, body)
            root = ET.fromstring(body)
            for node in root.iter(f"{_S3_NS}Key"):
                keys.append(node.text or "")
            truncated = root.findtext(f"{_S3_NS}IsTruncated") == "true"
            token = root.findtext(f"{_S3_NS}NextContinuationToken") or ""
            if not truncated or not token:
                return keys

    async def _get_raw(self, file_name: str) -> tuple[bytes, str] | None:
        async with self._fetch_limit:
            status, headers, body = await self._call("get", "GET", AUTH_PREFIX + file_name)
        if status == 404:
            return None
        if status != 200:
            raise self._fail("get", status, body)
        return body, headers.get("ETag", "").strip('"')

    async def load_all(self) -> LoadResult:
        names = [key[len(AUTH_PREFIX):] for key in await self._list_keys()]
        names = [n for n in names if n and "/" not in n and n.lower().endswith(".json") and not n.startswith(".")]
        fetched = await asyncio.gather(*(self._get_raw(name) for name in names))
        result = LoadResult()
        for name, item in zip(names, fetched, strict=True):
            if item is None:
                continue
            try:
                result.credentials[name] = parse_credential(name, item[0], item[1])
            except CredentialError as err:
                skip_bad(result, err, self.kind)
        return result

    async def get(self, file_name: str) -> Credential | None:
        item = await self._get_raw(validate_file_name(file_name))
        return None if item is None else parse_credential(file_name, item[0], item[1])

    async def save(self, credential: Credential, *, if_revision: str | None = None) -> Credential:
        name = validate_file_name(credential.file_name)
        data = credential.to_bytes()
        headers = {"Content-Type": "application/json", "Content-Length": str(len(data))}
        if if_revision is not None:
            headers["If-Match"] = f'"{if_revision}"'
        # A single PUT is all-or-nothing on the server: a dropped connection leaves the old object.
        status, resp_headers, body = await self._call("save", "PUT", AUTH_PREFIX + name, body=data, headers=headers)
        if status in (404, 412) and if_revision is not None:
            raise StoreConflict(name)
        if status != 200:
            raise self._fail("save", status, body)
        etag = resp_headers.get("ETag", "").strip('"') or hashlib.md5(data, usedforsecurity=False).hexdigest()
        return credential.with_revision(etag)

    async def delete(self, file_name: str) -> bool:
        key = AUTH_PREFIX + validate_file_name(file_name)
        status, _, body = await self._call("check", "HEAD", key)
        if status == 404:
            return False
        status, _, body = await self._call("delete", "DELETE", key)
        if status not in (200, 204):
            raise self._fail("delete", status, body)
        return True
