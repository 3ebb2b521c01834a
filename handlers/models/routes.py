"""Native ``GET /v1/models``, ``GET /v1beta/models`` and ``GET /v1beta/models/<name>``.

Each answers after client authentication, from the live model registry of the app's config store.
"""

from __future__ import annotations

from aiohttp import web

from handlers.client_auth import authenticate
from quotio_gateway.appkeys import CONFIG_STORE
from quotio_gateway.native import NativeRegistry

from .availability import STANDING, Standing, listed_models
from .catalog import ModelInfo
from .listing import gemini_model_response, gemini_models_response, v1_models_response
from .registry import registry_for


def _standing(request: web.Request) -> Standing | None:
    # Without the inference runtime (model routes alone) nothing is suspended.
    return request.app.get(STANDING)


def _authorised_models(request: web.Request) -> list[ModelInfo] | web.Response:
    store = request.app[CONFIG_STORE]
    verdict = authenticate(request, store.current.api_keys)
    if isinstance(verdict, web.Response):
        return verdict
    return listed_models(registry_for(store).current, _standing(request))


async def get_v1_models(request: web.Request) -> web.StreamResponse:
    models = _authorised_models(request)
    if isinstance(models, web.Response):
        return models
    return v1_models_response(models, request.headers.get("User-Agent", ""))


async def get_gemini_models(request: web.Request) -> web.StreamResponse:
    models = _authorised_models(request)
    if isinstance(models, web.Response):
        return models
    return gemini_models_response(models)


async def get_gemini_model(request: web.Request) -> web.StreamResponse:
    models = _authorised_models(request)
    if isinstance(models, web.Response):
        return models
    # Gin's catch-all value starts with the "/" that follows "models".
    return gemini_model_response(models, "/" + request.match_info["action"])


def setup_model_routes(registry: NativeRegistry) -> None:
    registry.get("/v1/models", get_v1_models)
    registry.get("/v1beta/models", get_gemini_models)
    registry.get("/v1beta/models/{action:.*}", get_gemini_model)
