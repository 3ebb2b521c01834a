"""Antigravity's model list, asked of the upstream per credential (there is no static list).

CLIProxyAPI v6.7.15 (``FetchAntigravityModels`` in ``antigravity_executor.go``, called when an
antigravity credential is registered) posts ``{}`` to ``<base>/v1internal:fetchAvailableModels``
with the credential's token and registers the keys of the answer's ``models`` object, minus a
few internal ids. Thinking and max-token metadata come from the static per-model overrides.
The bases are the executor's (the credential's ``base_url`` or the configured
``inference-base-url`` alone, else the built-in fallback list); a transport failure, or a 429
while another base remains, moves on to the next base, anything else ends the attempt.

``AntigravityModelFeed`` runs one fetch per credential file in the background (never on the
request path; at most ``MAX_CONCURRENT_FETCHES`` at a time), keeps the last good list in memory
and tells the runtime to rebuild the model registry when a list arrives. A credential whose fetch
failed registers no models, as in the legacy; the fetch is tried again the next time the file
changes (a new login, a refresh, an edit by the Quotio app).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson
import structlog

from handlers.models.catalog import ANTIGRAVITY_OVERRIDES, ModelInfo
from handlers.providers.base import PreparedRequest, UpstreamError
from handlers.providers.http import UpstreamClient
from handlers.providers.oauth_antigravity import BASE_URLS, USER_AGENT
from handlers.providers.oauth_base import OAuthCredential

log = structlog.get_logger("handlers.credentials")

MODELS_PATH = "/v1internal:fetchAvailableModels"
FETCH_TIMEOUT = 15.0  # the legacy's bound on one registration's fetch
# A start-up with many antigravity files must not open hundreds of upstream calls at once.
MAX_CONCURRENT_FETCHES = 8
OWNER = "antigravity"
# Ids the upstream lists that the legacy never registers (internal or superseded models).
SKIPPED = frozenset({"chat_20706", "chat_23310", "gemini-2.5-flash-thinking", "gemini-3-pro-low", "gemini-2.5-pro"})


def model_info(model_id: str, created: int) -> ModelInfo:
    thinking, max_tokens = ANTIGRAVITY_OVERRIDES.get(model_id, (None, 0))
    return ModelInfo(id=model_id, object="model", created=created, owned_by=OWNER, type=OWNER,
                     display_name=model_id, name=model_id, version=model_id, description=model_id,
                     thinking=thinking, max_completion_tokens=max_tokens)


def parse_models(body: bytes, created: int) -> tuple[ModelInfo, ...] | None:
    """The registered entries of one answer; ``None`` when it has no ``models`` object."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    models = doc.get("models") if isinstance(doc, dict) else None
    if not isinstance(models, dict):
        return None
    out: list[ModelInfo] = []
    for raw in models:
        model_id = raw.strip()
        if model_id and model_id not in SKIPPED:
            out.append(model_info(model_id, created))
    return tuple(out)


def base_urls(credential: OAuthCredential) -> tuple[str, ...]:
    # One trailing "/" goes, and the path is appended to what is left with no second trim
    # (antigravity_executor.go:1378-1387 and :946): "x//" asks "x//v1internal:fetchAvailableModels".
    custom = credential.base_url.strip().removesuffix("/")
    # The same order as inference (AntigravityExecutor.base_urls): the legacy asks for models
    # across the very list it sends chats to (antigravityBaseURLFallbackOrder, :942), so a
    # configured base keeps its configured inference-fallback-urls here too.
    return (custom, *credential.fallback_urls) if custom else BASE_URLS


def _refused(status: int, body: bytes, headers: Mapping[str, str]) -> UpstreamError:
    return UpstreamError("request", status, b"", reason="models")


async def fetch_models(client: UpstreamClient, credential: OAuthCredential, *,
                       clock: Callable[[], float] = time.time) -> tuple[ModelInfo, ...] | None:
    """One ``FetchAntigravityModels``: the list, or ``None`` when no base gave one."""
    try:
        token = await credential.tokens.access_token()
    except Exception as exc:  # no usable token: nothing to ask with (only the class is logged)
        log.warning("antigravity model list: no access token", credential=credential.id, error=type(exc).__name__)
        return None
    if not token:
        return None
    headers = (("Content-Type", "application/json"), ("Authorization", "Bearer " + token),
               ("User-Agent", credential.meta_str("user_agent") or USER_AGENT))
    bases = base_urls(credential)
    for index, base in enumerate(bases):
        more = index + 1 < len(bases)
        prepared = PreparedRequest("POST", base + MODELS_PATH, headers, b"{}")
        try:
            result = await client.request(prepared, credential.proxy_url, _refused)
        except UpstreamError as exc:
            if more and (exc.status is None or exc.status == 429):
                continue  # another base may be reachable, or have quota left
            log.warning("antigravity model list unavailable", credential=credential.id,
                        status=exc.status if exc.status is not None else "transport")
            return None
        return parse_models(result.body, int(clock()))
    return None


class AntigravityModelFeed:
    """Fetched model lists per antigravity credential file, kept current in the background.

    ``on_change`` is called (in the event loop) whenever a file's list changes, so the owner can
    rebuild the model registry; ``models(file)`` is what that rebuild registers.
    """

    def __init__(self, client: UpstreamClient, on_change: Callable[[], None], *,
                 timeout: float = FETCH_TIMEOUT) -> None:
        self._client = client
        self._on_change = on_change
        self._timeout = timeout
        self._lists: dict[str, tuple[ModelInfo, ...]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_FETCHES)

    def models(self, file_name: str) -> tuple[ModelInfo, ...] | None:
        return self._lists.get(file_name)

    @property
    def fetching(self) -> frozenset[str]:
        """Files whose list is being asked for right now."""
        return frozenset(self._tasks)

    def track(self, file_name: str, views: Iterable[OAuthCredential]) -> None:
        """A file was loaded or changed: fetch its list unless one is known or on its way."""
        view = next((v for v in views if v.provider == OWNER and not v.disabled), None)
        if view is None or file_name in self._lists or file_name in self._tasks:
            return
        task = asyncio.get_running_loop().create_task(self._fetch(file_name, view),
                                                      name=f"antigravity-models:{file_name}")
        self._tasks[file_name] = task
        task.add_done_callback(lambda done: self._done(file_name, done))

    def _done(self, file_name: str, task: asyncio.Task[None]) -> None:
        # Only this attempt's entry: a file forgotten and loaded again has a newer task.
        if self._tasks.get(file_name) is task:
            del self._tasks[file_name]

    def forget(self, file_name: str) -> None:
        self._lists.pop(file_name, None)
        task = self._tasks.pop(file_name, None)
        if task is not None:
            task.cancel()

    async def _fetch(self, file_name: str, view: OAuthCredential) -> None:
        models: tuple[ModelInfo, ...] | None = None
        try:
            async with self._slots:
                # The bound covers the call itself, not the wait for a free slot.
                async with asyncio.timeout(self._timeout):
                    models = await fetch_models(self._client, view)
        except TimeoutError:
            log.warning("antigravity model list timed out", credential=view.id, seconds=self._timeout)
        if not models:
            return  # nothing registered; the next change of the file tries again
        self._lists[file_name] = models
        log.info("antigravity models fetched", credential=view.id, models=len(models))
        self._on_change()

    async def close(self) -> None:
        tasks: list[asyncio.Task[Any]] = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
