"""Object store specifics: SigV4 signing, endpoint rules, key layout, and the server vanishing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

import botocore.auth
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from yarl import URL

from handlers.auth.credential import new_credential
from handlers.auth.stores import StoreConfigError, StoreUnavailable
from handlers.auth.stores.object_store import ObjectTokenStore, parse_endpoint, sign_v4
from tests.handlers.auth.conftest import FAST_RETRY, S3_KEYS, StoreFactory, TcpRelay, free_port

ANN = "claude-ann@example.com.json"


def botocore_signature(method: str, url: str, headers: dict[str, str], payload_hash: str, now: datetime,
                       monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: now.replace(tzinfo=None))
    request = AWSRequest(method=method, url=url, headers={**headers, "X-Amz-Content-SHA256": payload_hash})
    signer = S3SigV4Auth(Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), "s3", "us-east-1")
    signer.add_auth(request)
    return request.headers["Authorization"]


@pytest.mark.parametrize(("method", "url", "headers"), [
    ("GET", "http://127.0.0.1:9000/bucket/auths/claude-ann%40example.com.json", {}),
    ("PUT", "https://s3.example.com/bucket/auths/a%20b.json", {"Content-Type": "application/json",
                                                             "If-Match": '"abc"'}),
    ("GET", "http://127.0.0.1:9000/bucket?continuation-token=a%2Fb%3D&list-type=2&prefix=auths%2F", {}),
    ("HEAD", "http://localhost:9000/bucket", {}),
])
def test_signature_matches_botocore(method: str, url: str, headers: dict[str, str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    payload = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    ours = sign_v4(method, URL(url, encoded=True), headers, payload, access_key="AKIDEXAMPLE",
                   secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", now=now)
    theirs = botocore_signature(method, url, {**headers, "Host": urlsplit(url).netloc}, payload, now,
                                monkeypatch)
    assert ours["Authorization"] == theirs
    assert ours["x-amz-date"] == "20260102T030405Z"


@pytest.mark.parametrize(("raw", "base"), [
    ("minio.local:9000", "https://minio.local:9000"),
    ("http://127.0.0.1:9000/", "http://127.0.0.1:9000"),
    ("HTTPS://s3.example.com/base/", "https://s3.example.com/base"),
])
def test_endpoint_rules(raw: str, base: str) -> None:
    assert parse_endpoint(raw) == base


@pytest.mark.parametrize(("raw", "message"), [
    ("ftp://x", "object store: unsupported endpoint scheme 'ftp' (use http or https)"),
    ("http://", "object store: endpoint 'http://' has no host"),
])
def test_bad_endpoints(raw: str, message: str) -> None:
    with pytest.raises(StoreConfigError) as info:
        parse_endpoint(raw)
    assert str(info.value) == message


async def test_keys_live_under_auths_in_a_bucket_created_on_start(object_factory: StoreFactory) -> None:
    store = await object_factory.open()
    assert isinstance(store, ObjectTokenStore)
    saved = await store.save(new_credential(ANN, {"type": "claude", "access_token": "a"}))
    status, headers, body = await store._call("raw get", "GET", f"auths/{ANN}")
    assert (status, body) == (200, b'{"access_token":"a","type":"claude"}')
    assert headers["ETag"].strip('"') == saved.revision
    await store.close()
    again = await object_factory.open("restart")  # the bucket now exists: start must not fail
    assert await again.list_names() == [ANN]


async def test_unreachable_at_start(object_factory: StoreFactory) -> None:
    store = ObjectTokenStore(f"http://127.0.0.1:{free_port()}", bucket="b", retry=FAST_RETRY, **S3_KEYS)
    with pytest.raises(StoreUnavailable) as info:
        await store.start()
    assert str(info.value).startswith("object store: check bucket failed after 2 attempts: ClientConnectorError: ")
    assert S3_KEYS["secret_key"] not in str(info.value)


async def test_server_lost_mid_run_then_back(object_factory: StoreFactory, moto_endpoint: str,
                                             relay_factory: Callable[[int], TcpRelay]) -> None:
    relay = relay_factory(int(moto_endpoint.rsplit(":", 1)[1]))
    await relay.start()
    store = await object_factory.open(endpoint=f"http://127.0.0.1:{relay.port}")
    first = await store.save(new_credential(ANN, {"type": "claude", "access_token": "old"}))
    await relay.stop()
    with pytest.raises(StoreUnavailable) as info:
        await store.save(first.with_metadata(access_token="new"), if_revision=first.revision)
    assert str(info.value).startswith("object store: save failed after 2 attempts: ")
    await relay.start()
    again = await store.get(ANN)
    assert again is not None
    assert (again.metadata["access_token"], again.revision) == ("old", first.revision)
    saved = await store.save(again.with_metadata(access_token="new"), if_revision=again.revision)
    assert (await store.get(ANN)).metadata["access_token"] == saved.metadata["access_token"] == "new"


def test_missing_settings_are_a_config_error() -> None:
    with pytest.raises(StoreConfigError) as info:
        ObjectTokenStore("http://127.0.0.1:1", bucket="", access_key="a", secret_key="b")
    assert str(info.value) == "object store: bucket, access key and secret key are required"
