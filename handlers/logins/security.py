"""Random values of the browser logins: OAuth ``state`` and PKCE (S256), shaped as the legacy's."""

from __future__ import annotations

import secrets
import time

from authlib.oauth2.rfc7636 import create_s256_code_challenge

__all__ = ["hex_state", "pkce_pair", "timestamped_state"]


def hex_state() -> str:
    """16 random bytes as 32 hex characters (the legacy's ``GenerateRandomState``)."""
    return secrets.token_hex(16)


def timestamped_state(prefix: str) -> str:
    """``<prefix>-<unix nanoseconds>``, the state the legacy's Gemini and iFlow routes use.

    A random suffix is not added: the Quotio app and the web UI only echo the value, and the
    legacy's format is what they have seen. Uniqueness comes from the nanosecond clock.
    """
    return f"{prefix}-{time.time_ns()}"


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge): 96 random bytes, base64url without padding (128 characters)."""
    verifier = secrets.token_urlsafe(96)
    return verifier, create_s256_code_challenge(verifier)
