"""Vertex service-account import (validation, the legacy file) and JWT-bearer token minting."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from handlers.logins.device_http import TokenEndpointError
from handlers.logins.endpoints import endpoints_for
from handlers.logins.vertex_import import (
    ServiceAccountError,
    VertexTokenMinter,
    import_service_account,
    import_service_account_file,
    normalise_private_key,
    parse_service_account,
    sign_assertion,
)
from tests.fakes.device_providers import DeviceProviderState, start_device_providers

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PKCS8 = KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption()).decode()
PKCS1 = KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                          serialization.NoEncryption()).decode()


def service_account(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "type": "service_account", "project_id": "my-proj:eu west", "private_key_id": "kid-1",
        "private_key": PKCS8, "client_email": "sa@my-proj.iam.gserviceaccount.com", "client_id": "123",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


@pytest.fixture
async def fake() -> AsyncIterator[DeviceProviderState]:
    runner, state = await start_device_providers()
    state.service_accounts["sa@my-proj.iam.gserviceaccount.com"] = KEY.public_key()
    yield state
    await runner.cleanup()


async def test_import_writes_the_legacy_vertex_file(store, tmp_path):
    saved = await import_service_account(store, json.dumps(service_account()).encode())
    assert saved.file_name == "vertex-my-proj_eu-west.json"
    on_disk = json.loads((tmp_path / "auth" / saved.file_name).read_bytes())
    assert set(on_disk) == {"service_account", "project_id", "email", "location", "type"}
    assert on_disk["project_id"] == "my-proj:eu west"
    assert on_disk["email"] == "sa@my-proj.iam.gserviceaccount.com"
    assert on_disk["location"] == "us-central1"
    assert on_disk["type"] == "vertex"
    # Every field of the key is kept; the key itself is stored as PKCS#1, as the legacy does.
    assert on_disk["service_account"]["private_key_id"] == "kid-1"
    assert on_disk["service_account"]["private_key"] == PKCS1
    assert (tmp_path / "auth" / saved.file_name).stat().st_mode & 0o777 == 0o600


async def test_import_with_location(store):
    saved = await import_service_account(store, json.dumps(service_account()).encode(), "europe-west4")
    assert saved.metadata["location"] == "europe-west4"


@pytest.mark.parametrize(("data", "error", "message"), [
    (b"not json at all", "invalid json", "Expecting value at line 1 column 1"),
    (b"[1, 2]", "invalid json", "service account file is not a JSON object"),
    (b"\xff\xfe", "invalid json", "service account file is not UTF-8 text"),
    (json.dumps(service_account(private_key=None)).encode(), "invalid service account",
     "service account missing private_key"),
    (json.dumps(service_account(private_key="   ")).encode(), "invalid service account",
     "service account missing private_key"),
    (json.dumps(service_account(private_key="hello")).encode(), "invalid service account",
     "private_key is not valid pem: missing pem markers"),
    (json.dumps(service_account(project_id="")).encode(), "project_id missing",
     "project_id missing in service account json"),
])
async def test_bad_key_files_are_refused_and_nothing_is_written(store, tmp_path, data, error, message):
    with pytest.raises(ServiceAccountError) as caught:
        await import_service_account(store, data)
    assert caught.value.error == error
    assert str(caught.value) == message
    assert list((tmp_path / "auth").glob("*.json")) == []


async def test_a_refused_import_leaves_the_existing_file_whole(store, tmp_path):
    saved = await import_service_account(store, json.dumps(service_account()).encode())
    before = (tmp_path / "auth" / saved.file_name).read_bytes()
    with pytest.raises(ServiceAccountError):
        await import_service_account(store, json.dumps(service_account(private_key="broken")).encode())
    assert (tmp_path / "auth" / saved.file_name).read_bytes() == before


def test_non_rsa_key_is_refused():
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    with pytest.raises(ServiceAccountError) as caught:
        parse_service_account(json.dumps(service_account(private_key=ec_pem)).encode())
    assert str(caught.value) == "private_key is not an RSA key"


def test_a_key_mangled_by_copy_paste_is_rebuilt():
    mangled = PKCS8.replace("\n", " ").replace("-----BEGIN PRIVATE KEY----- ", "-----BEGIN PRIVATE KEY-----\r\n")
    assert normalise_private_key("\x1b[0m" + mangled) == PKCS1


async def test_import_from_a_file_path(store, tmp_path):
    key_file = tmp_path / "sa.json"
    key_file.write_text(json.dumps(service_account()))
    saved = await import_service_account_file(store, key_file)
    assert saved.file_name == "vertex-my-proj_eu-west.json"
    with pytest.raises(ServiceAccountError) as caught:
        await import_service_account_file(store, tmp_path / "missing.json")
    assert str(caught.value) == f"cannot read {tmp_path / 'missing.json'}: No such file or directory"


async def test_minted_tokens_are_signed_with_the_key_and_cached(fake, store):
    saved = await import_service_account(store, json.dumps(service_account()).encode())
    ep = endpoints_for("vertex", {"provider-endpoints": {"vertex": {"token-url": f"{fake.base_url}/google/token"}}})
    async with aiohttp.ClientSession() as http:
        minter = VertexTokenMinter(http, ep)
        first = await minter.get(saved)
        assert first.token == "ya29.vertex-1"
        assert (await minter.get(saved)).token == "ya29.vertex-1"
        assert (await minter.get(saved, force=True)).token == "ya29.vertex-2"
    grant = fake.calls("/google/token")[0]["body"]
    assert grant["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert len(fake.calls("/google/token")) == 2


async def test_a_key_the_token_endpoint_rejects(fake, store):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    saved = await import_service_account(store, json.dumps(service_account(private_key=other)).encode())
    ep = endpoints_for("vertex", {"provider-endpoints": {"vertex": {"token-url": f"{fake.base_url}/google/token"}}})
    async with aiohttp.ClientSession() as http:
        with pytest.raises(TokenEndpointError) as caught:
            await VertexTokenMinter(http, ep).get(saved)
    assert caught.value.permanent


def test_the_assertion_is_backdated_as_x_oauth2_writes_it():
    token = sign_assertion(service_account(), "https://oauth2.googleapis.com/token", 1_700_000_000.9)
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    # jws.ClaimSet.encode: iat ten seconds back, exp an hour after it, struct field order.
    assert list(claims) == ["iss", "scope", "aud", "exp", "iat"]
    assert (claims["iat"], claims["exp"]) == (1_699_999_990, 1_699_999_990 + 3600)
