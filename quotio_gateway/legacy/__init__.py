"""Talking to the legacy CLIProxyAPI: forwarding, connection pool, supervision, health."""
