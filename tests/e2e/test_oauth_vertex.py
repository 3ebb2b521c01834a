"""Vertex AI service accounts, the whole path: import -> credential file -> google-genai SDK ->
minted token expires -> a new one is minted -> 401 -> one new token and one retry.

Vertex files hold the service account, not a token: the gateway signs a JWT with the key and
trades it at the token endpoint, keeping the access token in memory only.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import GatewayFactory
from tests.e2e.oauth_gateway import OAuthGateway, oauth_gateway

FILE = "vertex-vx-project.json"
MODEL = "gemini-2.5-pro"
EMAIL = "runner@vx-project.iam.gserviceaccount.com"
GENERATE = f"/vertex/v1/projects/vx-project/locations/us-central1/publishers/google/models/{MODEL}:generateContent"
TOKEN = "/vertex/token"


def service_account(gw: OAuthGateway, tmp_path: Path) -> tuple[Path, dict]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    gw.fake.vertex_keys[EMAIL] = key.public_key()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    account = {"type": "service_account", "project_id": "vx-project", "private_key_id": "kid-1",
               "private_key": pem, "client_email": EMAIL, "client_id": "1234",
               "token_uri": "https://oauth2.googleapis.com/token"}
    path = tmp_path / "key.json"
    path.write_text(json.dumps(account))
    return path, account


def assertion_claims(request: dict) -> dict:
    payload = request["body"]["assertion"].split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def ask(gw: OAuthGateway) -> str:
    answer = await gw.genai().models.generate_content(model=MODEL, contents="say hello")
    return answer.text or ""


async def test_import_serve_remint_and_retry(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    async with oauth_gateway(make_gateway, tmp_path) as gw:
        # 1. import -> CLIProxyAPI's vertex file
        key_file, account = service_account(gw, tmp_path)
        credential = await gw.cli_login("vertex", vertex_file=str(key_file))
        assert credential.file_name == FILE
        data = gw.read(FILE)
        assert set(data) == {"service_account", "project_id", "email", "location", "type"}
        assert (data["type"], data["project_id"], data["email"], data["location"]) == (
            "vertex", "vx-project", EMAIL, "us-central1")
        assert data["service_account"]["client_email"] == EMAIL
        # The key is kept, re-encoded as PKCS#1 as the legacy's import normalises it.
        stored = data["service_account"]["private_key"]
        assert stored.startswith("-----BEGIN RSA PRIVATE KEY-----")
        loaded = serialization.load_pem_private_key(stored.encode(), password=None)
        assert loaded.public_key().public_numbers() == gw.fake.vertex_keys[EMAIL].public_numbers()
        assert {k: v for k, v in data["service_account"].items() if k != "private_key"} == {
            k: v for k, v in account.items() if k != "private_key"}
        assert gw.mode(FILE) == 0o600
        raw = gw.path(FILE).read_bytes()

        # 2. served on the regional aiplatform path with a token minted from a signed JWT
        gw.fake.vertex_expires_in = 5  # inside the minter's 10 s margin: stale as soon as it arrives
        await gw.until_served(MODEL, FILE)
        assert await ask(gw) == "hello from fake vertex"
        [grant] = gw.fake.seen(TOKEN)
        assert grant["body"]["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
        claims = assertion_claims(grant)
        assert (claims["iss"], claims["aud"]) == (EMAIL, f"{gw.fake.url}{TOKEN}")
        assert claims["scope"] == "https://www.googleapis.com/auth/cloud-platform"
        [sent] = gw.fake.seen(GENERATE)
        first = sent["headers"]["Authorization"].removeprefix("Bearer ")
        assert first in gw.fake.issued_tokens and first.startswith("vertex-at-")
        assert sent["body"]["contents"] == [{"role": "user", "parts": [{"text": "say hello"}]}]

        # 3. that token is past its life -> the next request mints a new one and uses it
        gw.fake.vertex_expires_in = 3600
        assert await ask(gw) == "hello from fake vertex"
        assert len(gw.fake.seen(TOKEN)) == 2
        second = gw.fake.seen(GENERATE)[-1]["headers"]["Authorization"].removeprefix("Bearer ")
        assert second != first
        assert await ask(gw) == "hello from fake vertex"  # still fresh: no new grant
        assert len(gw.fake.seen(TOKEN)) == 2

        # 4. an upstream 401 -> exactly one new token and one retry
        gw.fake.issued_tokens.discard(second)
        before = len(gw.fake.seen(GENERATE))
        assert await ask(gw) == "hello from fake vertex"
        assert len(gw.fake.seen(TOKEN)) == 3
        retried = [r["headers"]["Authorization"] for r in gw.fake.seen(GENERATE)[before:]]
        assert retried[0] == f"Bearer {second}" and len(retried) == 2 and retried[1] != retried[0]
        # The file holds the service account only: nothing was written back.
        assert gw.path(FILE).read_bytes() == raw


async def test_token_endpoint_failure_is_the_legacys_500(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    """gemini_vertex_executor.go:350-355: a failed mint is statusErr{500, "internal server error"},
    so a one-minute cooldown and no refresh-and-retry; the cause stays in the log (token endpoints
    echo secrets back)."""
    async with oauth_gateway(make_gateway, tmp_path) as gw:
        key_file, _ = service_account(gw, tmp_path)
        await gw.cli_login("vertex", vertex_file=str(key_file))
        await gw.until_served(MODEL, FILE)
        raw = gw.path(FILE).read_bytes()
        gw.fake.token_fault["vertex"] = "http500"
        status, body = await gw.genai_status(MODEL)
        assert (status, body) == (500, {"error": {"message": "internal server error", "type": "server_error",
                                                  "code": "internal_server_error"}})
        assert len(gw.fake.seen(TOKEN)) == 1
        assert gw.fake.seen(GENERATE) == []
        assert gw.path(FILE).read_bytes() == raw
