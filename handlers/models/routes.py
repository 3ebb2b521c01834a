"""Native ``GET /v1/models``, ``GET /v1beta/models`` and ``GET /v1beta/models/<name>``.

Each answers after client authentication, from the live model registry of the app's config store.
"""

from __future__ import annotations

from aiohttp import web

from handlers.client_auth import authenticate
from quotio_gateway.appkeys import CONFIG_STORE
from quotio_gateway.native import NativeRegistry

from .listing import gemini_model_response, gemini_models_response, v1_models_response
from .registry import ModelRegistry, registry_for


def _authorised_registry(request: web.Request) -> ModelRegistry | web.Response:
    store = request.app[CONFIG_STORE]
    verdict = authenticate(request, store.current.api_keys)
    if isinstance(verdict, web.Response):
        return verdict
    return registry_for(store).current


async def get_v1_models(request: web.Request) -> web.StreamResponse:
    registry = _authorised_registry(request)
    if isinstance(registry, web.Response):
        return registry
    return v1_models_response(registry.available(), request.headers.get("User-Agent", ""))


async def get_gemini_models(request: web.Request) -> web.StreamResponse:
    registry = _authorised_registry(request)
    if isinstance(registry, web.Response):
        return registry
    return gemini_models_response(registry.available())


async def get_gemini_model(request: web.Request) -> web.StreamResponse:
    registry = _authorised_registry(request)
    if isinstance(registry, web.Response):
        return registry
    # Gin's catch-all value starts with the "/" that follows "models".
    return gemini_model_response(registry.available(), "/" + request.match_info["action"])


def setup_model_routes(registry: NativeRegistry) -> None:
    registry.get("/v1/models", get_v1_models)
    registry.get("/v1beta/models", get_gemini_models)
    registry.get("/v1beta/models/{action:.*}", get_gemini_model)
