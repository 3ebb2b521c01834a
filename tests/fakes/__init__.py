"""Test doubles: a stand-in for the CLIProxyAPI v6.7.15 binary and a fake OpenAI-style upstream.

The start functions are imported lazily so ``python -m tests.fakes.legacy_server`` does not load
the module twice (runpy warns when the package already imported it).
"""

from __future__ import annotations

from typing import Any

__all__ = ["start_fake_provider", "start_legacy"]


def __getattr__(name: str) -> Any:
    if name == "start_legacy":
        from .legacy_server import start_legacy

        return start_legacy
    if name == "start_fake_provider":
        from .fake_provider import start_fake_provider

        return start_fake_provider
    raise AttributeError(name)
