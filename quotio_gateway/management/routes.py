"""Registration of the native management endpoints, each at its full legacy path and method."""

from __future__ import annotations

from ..native import Handler, NativeRegistry
from . import config_basic as basic
from . import config_lists as lists
from . import config_model_alias as alias
from .auth import guarded
from .config_ampcode import ampcode_routes
from .latest_version import get_latest_version

PREFIX = "/v0/management"


def setup_management(registry: NativeRegistry) -> None:
    """Register every config-backed management endpoint behind the management access check."""

    def add(method: str, path: str, handler: Handler) -> None:
        registry.add(method, f"{PREFIX}/{path}", guarded(handler))

    add("GET", "config", basic.get_config)
    add("GET", "config.yaml", basic.get_config_yaml)
    add("PUT", "config.yaml", basic.put_config_yaml)
    add("GET", "latest-version", get_latest_version)

    for scalar in basic.SCALARS:
        add("GET", scalar.path, scalar.get)
        add("PUT", scalar.path, scalar.put)
        add("PATCH", scalar.path, scalar.put)
    add("DELETE", "proxy-url", basic.delete_proxy_url)

    add("GET", "routing/strategy", basic.get_routing_strategy)
    add("PUT", "routing/strategy", basic.put_routing_strategy)
    add("PATCH", "routing/strategy", basic.put_routing_strategy)

    add("GET", "api-keys", lists.get_api_keys)
    add("PUT", "api-keys", lists.put_api_keys)
    add("PATCH", "api-keys", lists.patch_api_keys)
    add("DELETE", "api-keys", lists.delete_api_keys)

    for spec in lists.KEY_LISTS:
        for method, handler in lists.key_list_handlers(spec).items():
            add(method, spec.key, handler)

    add("GET", "oauth-excluded-models", lists.get_oauth_excluded_models)
    add("PUT", "oauth-excluded-models", lists.put_oauth_excluded_models)
    add("PATCH", "oauth-excluded-models", lists.patch_oauth_excluded_models)
    add("DELETE", "oauth-excluded-models", lists.delete_oauth_excluded_models)

    add("GET", "oauth-model-alias", alias.get_oauth_model_alias)
    add("PUT", "oauth-model-alias", alias.put_oauth_model_alias)
    add("PATCH", "oauth-model-alias", alias.patch_oauth_model_alias)
    add("DELETE", "oauth-model-alias", alias.delete_oauth_model_alias)

    for method, path, handler in ampcode_routes():
        add(method, path, handler)
