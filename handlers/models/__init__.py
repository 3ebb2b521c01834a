"""Model registry, model listings, payload rules and the native model-list routes."""

from .catalog import ModelInfo, Thinking
from .listing import build_error_body, error_response, unknown_model_response
from .payload_rules import apply_payload_rules
from .registry import (
    CredentialRecord,
    LiveModelRegistry,
    ModelRegistry,
    UnknownModelError,
    build_registry,
    registry_for,
    split_thinking_suffix,
)
from .routes import setup_model_routes

__all__ = [
    "CredentialRecord",
    "LiveModelRegistry",
    "ModelInfo",
    "ModelRegistry",
    "Thinking",
    "UnknownModelError",
    "apply_payload_rules",
    "build_error_body",
    "build_registry",
    "error_response",
    "registry_for",
    "setup_model_routes",
    "split_thinking_suffix",
    "unknown_model_response",
]
