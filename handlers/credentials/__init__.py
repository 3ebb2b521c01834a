"""Auth-dir credentials at run time: loading, watching, selection input, executors (README.md)."""

from __future__ import annotations

from .runtime import EXECUTOR_CLASSES, CredentialRuntime, configured_base_urls
from .tokens import ExchangedToken, FileToken, file_token
from .views import build_views

__all__ = [
    "EXECUTOR_CLASSES",
    "CredentialRuntime",
    "ExchangedToken",
    "FileToken",
    "build_views",
    "configured_base_urls",
    "file_token",
]
