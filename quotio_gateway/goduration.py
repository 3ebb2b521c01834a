"""Go's ``time.Duration.String()`` for whole seconds: the form CLIProxyAPI's error messages use."""

from __future__ import annotations


def format_whole_seconds(total: int) -> str:
    """``1h2m3s``, ``4m0s``, ``5s``, ``0s`` — callers round to whole seconds by their own rule first."""
    if total <= 0:
        return "0s"
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
