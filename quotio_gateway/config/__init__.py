"""CLIProxyAPI-compatible ``config.yaml``: models, loader, comment-preserving writer, live store."""

from .gojson import config_to_go_json
from .loader import ConfigError, default_config, load_config
from .models import Config
from .store import ConfigStore
from .writer import save_config_preserving, update_nested_scalar

__all__ = [
    "Config",
    "ConfigError",
    "ConfigStore",
    "config_to_go_json",
    "default_config",
    "load_config",
    "save_config_preserving",
    "update_nested_scalar",
]
