"""The Amp provider aliases (``routes.go`` registerProviderAliases): ``/api/provider/<provider>/...``
served by the native inference and model-list handlers, behind the same client key check.

The model lists take their shape from the provider name alone (lower-cased): ``anthropic`` the
Claude list, ``google`` the Gemini list, anything else the OpenAI list; no User-Agent sniffing.
Every POST goes through the fallback wrapper (``fallback.py``).
"""

from __future__ import annotations

from aiohttp import web

from handlers.client_auth import authenticate
from handlers.inference import routes as inference
from handlers.models.availability import STANDING, listed_models
from handlers.models.catalog import ModelInfo
from handlers.models.listing import claude_models_body, gemini_models_response, openai_models_body
from handlers.models.registry import registry_for
from handlers.models.routes import get_gemini_model, get_gemini_models
from handlers.usage.reporter import CLIENT_KEY
from quotio_gateway.appkeys import CONFIG_STORE
from quotio_gateway.gostrings import go_lower
from quotio_gateway.management.responses import json_response
from quotio_gateway.native import NativeRegistry

from .fallback import with_amp_fallback

PROVIDER = "/api/provider/{provider}"


def authorise(request: web.Request) -> web.Response | None:
    """The group's ``AuthMiddleware``; the matched key is kept for usage and upstream-key lookups."""
    verdict = authenticate(request, request.app[CONFIG_STORE].current.api_keys)
    if isinstance(verdict, web.Response):
        return verdict
    if verdict:
        request[CLIENT_KEY] = verdict
    return None


def _models(request: web.Request) -> list[ModelInfo] | web.Response:
    if (denied := authorise(request)) is not None:
        return denied
    return listed_models(registry_for(request.app[CONFIG_STORE]).current, request.app.get(STANDING))


async def provider_models(request: web.Request) -> web.StreamResponse:
    models = _models(request)
    if isinstance(models, web.Response):
        return models
    provider = go_lower(request.match_info["provider"])
    if provider == "anthropic":
        return json_response(200, claude_models_body(models))
    if provider == "google":
        return gemini_models_response(models)
    return json_response(200, openai_models_body(models))


def setup_amp_provider_routes(registry: NativeRegistry) -> None:
    for prefix in (PROVIDER, PROVIDER + "/v1"):
        registry.get(f"{prefix}/models", provider_models)
        registry.post(f"{prefix}/chat/completions", with_amp_fallback(inference.chat_completions, authorise))
        registry.post(f"{prefix}/completions", with_amp_fallback(inference.completions, authorise))
        registry.post(f"{prefix}/responses", with_amp_fallback(inference.responses, authorise))
    registry.post(f"{PROVIDER}/v1/messages", with_amp_fallback(inference.claude_messages, authorise))
    registry.post(f"{PROVIDER}/v1/messages/count_tokens",
                  with_amp_fallback(inference.claude_count_tokens, authorise))
    # The Gemini lists are the plain routes' own handlers: same key check, same answers.
    registry.get(f"{PROVIDER}/v1beta/models", get_gemini_models)
    registry.post(f"{PROVIDER}/v1beta/models/{{action:.*}}", with_amp_fallback(inference.gemini_models_post, authorise))
    registry.get(f"{PROVIDER}/v1beta/models/{{action:.*}}", get_gemini_model)
