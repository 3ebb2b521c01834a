"""The stand-in legacy's Gemini model routes: ``GET /v1beta/models`` and ``GET /v1beta/models/*action``.

CLIProxyAPI v6.7.15 answers both from its one model registry, which every credential fills
(``sdk/cliproxy/service.go`` registerModelsForAuth, :679-863), whatever protocol its upstream
speaks, so OpenAI-compatible and Claude models are listed as Gemini models too:

* API-key sections (``gemini-``, ``claude-``, ``codex-``, ``vertex-api-key``), one credential per
  entry with a key: with ``models:`` each alias (else name) is a model whose display name is the
  upstream name (buildConfigModels, :1129-1172), after the entry's ``excluded-models``
  (applyExcludedModels, :1003-1036; not for Vertex) and its ``prefix`` (applyModelPrefixes,
  :1038-1079, honouring ``force-model-prefix``).
* ``openai-compatibility``: alias (else name) with that id as display name (:808-830), prefixed
  the same way.

The registry's Gemini view of a model (``internal/registry/model_registry.go`` convertModelToMap,
:1046-1070) has ``name`` (the id: these models carry no name of their own) and ``displayName``.
The list (``sdk/api/handlers/gemini/gemini_handlers.go`` GeminiModels, :50-74) prefixes names
with ``models/``, sets displayName and description to the unprefixed name and adds
``supportedGenerationMethods: ["generateContent"]``; one model (GeminiGetHandler, :78-121) is the
view as it is, with the ``models/`` prefix, or 404 ``not_found``.

Not imitated: the static catalogues of entries without ``models:``, OAuth credentials from
the auth directory, ``oauth-model-alias``, and cooldown or quota state. Written from the Go
source, independently of the gateway's ``handlers/models``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .legacy_gin import STATE_KEY, gin_json

# (id, display name) as the registry holds them.
Registered = tuple[str, str]


def _wildcard(pattern: str, value: str) -> bool:
    """matchWildcard (service.go:1081-1127): ``*`` matches any run, everything else literally."""
    if "*" not in pattern:
        return pattern == value
    parts = pattern.split("*")
    if parts[0]:
        if not value.startswith(parts[0]):
            return False
        value = value[len(parts[0]):]
    if parts[-1]:
        if not value.endswith(parts[-1]):
            return False
        value = value[: len(value) - len(parts[-1])]
    for segment in parts[1:-1]:
        if not segment:
            continue
        at = value.find(segment)
        if at < 0:
            return False
        value = value[at + len(segment):]
    return True


def _config_models(entry: dict[str, Any]) -> list[Registered]:
    out: list[Registered] = []
    seen: set[str] = set()
    for model in entry.get("models") or []:
        name = (model.get("name") or "").strip()
        alias = (model.get("alias") or "").strip() or name
        if not alias or alias.lower() in seen:
            continue
        seen.add(alias.lower())
        out.append((alias, name or alias))
    return out


def _excluded(models: list[Registered], excluded: list[str] | None) -> list[Registered]:
    patterns = [p.strip().lower() for p in excluded or [] if p.strip()]
    if not patterns:
        return models
    return [m for m in models if not any(_wildcard(p, m[0].strip().lower()) for p in patterns)]


def _prefixed(models: list[Registered], prefix: str, force: bool) -> list[Registered]:
    prefix = prefix.strip()
    if not prefix:
        return models
    out: list[Registered] = []
    seen: set[str] = set()

    def add(model_id: str, display: str) -> None:
        if model_id and model_id not in seen:
            seen.add(model_id)
            out.append((model_id, display))

    for model_id, display in models:
        base = model_id.strip()
        if not base:
            continue
        if not force or prefix == base:
            add(model_id, display)
        add(f"{prefix}/{base}", display)  # the clone keeps the display name
    return out


def registry(cfg: dict[str, Any]) -> dict[str, str]:
    """Model id -> display name, credentials in the synthesizer's order (gemini, claude, codex,
    openai-compatibility, vertex; synthesizer/config.go:22-41). A later credential registering the
    same id replaces its info (model_registry.go:415-438)."""
    force = bool(cfg.get("force-model-prefix"))
    out: dict[str, str] = {}

    def register(models: list[Registered]) -> None:
        for model_id, display in models:
            out[model_id] = display

    for section in ("gemini-api-key", "claude-api-key", "codex-api-key"):
        for entry in cfg.get(section) or []:
            if not (entry.get("api-key") or "").strip():
                continue
            models = _excluded(_config_models(entry), entry.get("excluded-models"))
            register(_prefixed(models, entry.get("prefix") or "", force))
    for compat in cfg.get("openai-compatibility") or []:
        models = []
        for model in compat.get("models") or []:
            model_id = model.get("alias") or model.get("name") or ""
            models.append((model_id, model_id))
        register(_prefixed([m for m in models if m[0]], compat.get("prefix") or "", force))
    for entry in cfg.get("vertex-api-key") or []:
        register(_prefixed(_config_models(entry), entry.get("prefix") or "", force))
    return out


def _view(model_id: str, display: str) -> dict[str, Any]:
    view: dict[str, Any] = {"name": model_id}
    if display:
        view["displayName"] = display
    return view


async def gemini_models(request: web.Request) -> web.Response:
    models = []
    for model_id, display in registry(request.app[STATE_KEY].cfg).items():
        item = _view(model_id, display)
        name = item["name"]
        if name:
            if not name.startswith("models/"):
                item["name"] = "models/" + name
            item["displayName"] = name
            item["description"] = name
        item.setdefault("supportedGenerationMethods", ["generateContent"])
        models.append({key: item[key] for key in sorted(item)})
    return gin_json(200, {"models": models})


async def gemini_model(request: web.Request) -> web.Response:
    action = request.match_info["action"]
    for model_id, display in registry(request.app[STATE_KEY].cfg).items():
        if model_id in (action, "models/" + action):
            item = _view(model_id, display)
            if not model_id.startswith("models/"):
                item["name"] = "models/" + model_id
            return gin_json(200, {key: item[key] for key in sorted(item)})
    return gin_json(404, {"error": {"message": "Not Found", "type": "not_found"}})


def register_gemini_models(app: web.Application, auth: Any) -> None:
    app.router.add_get("/v1beta/models", auth(gemini_models), allow_head=False)
    # Gin's catch-all ``*action`` keeps the leading slash; the handler trims it (:91).
    app.router.add_get("/v1beta/models/{action:.*}", auth(gemini_model), allow_head=False)
