"""Logins and credentials: CLIProxyAPI's auth-dir credential files and the token stores that hold them."""

from handlers.auth.credential import Credential, CredentialError, auth_index, new_credential, parse_credential

__all__ = ["Credential", "CredentialError", "auth_index", "new_credential", "parse_credential"]
