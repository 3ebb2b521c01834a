"""Kiro credential files as CLIProxyAPIPlus reads them (internal/watcher/watcher.go
SnapshotCoreAuths): untyped Kiro token files and the kiro-<provider> label the Quotio app lists."""

from __future__ import annotations

import json

import pytest

from handlers.auth.credential import CredentialError, parse_credential

KIRO = {"access_token": "a", "refresh_token": "r", "expires_at": "2030-01-01T00:00:00Z"}


@pytest.mark.parametrize("method", ["social", "builder-id"])
def test_untyped_kiro_file_is_detected_by_auth_method(method: str) -> None:
    raw = json.dumps({**KIRO, "auth_method": method}).encode()
    credential = parse_credential("kiro-x.json", raw)
    assert (credential.type, credential.provider) == ("kiro", "kiro")


def test_untyped_file_with_other_auth_method_is_still_refused() -> None:
    # Plus only recognises builder-id and social; "idc" files without a type are skipped.
    with pytest.raises(CredentialError) as err:
        parse_credential("kiro-x.json", json.dumps({**KIRO, "auth_method": "idc"}).encode())
    assert err.value.reason == "missing_type"


def test_kiro_label_is_kiro_dash_provider_even_with_an_email() -> None:
    raw = json.dumps({**KIRO, "type": "kiro", "provider": "Google", "email": "k@example.com"}).encode()
    assert parse_credential("kiro-google-1.json", raw).label == "kiro-google"


def test_kiro_label_without_provider_falls_back_to_email_then_type() -> None:
    with_email = json.dumps({**KIRO, "type": "kiro", "email": "k@example.com"}).encode()
    assert parse_credential("kiro-1.json", with_email).label == "k@example.com"
    assert parse_credential("kiro-2.json", json.dumps({**KIRO, "type": "kiro"}).encode()).label == "kiro"


def test_other_providers_keep_the_email_label() -> None:
    raw = json.dumps({"type": "claude", "email": "c@example.com", "provider": "x"}).encode()
    assert parse_credential("claude-1.json", raw).label == "c@example.com"
