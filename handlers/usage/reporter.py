"""One upstream call's usage record, published once, as the legacy's ``usageReporter`` does
(``internal/runtime/executor/usage_helpers.go``).

A call publishes the first token counts it sees that are not all zero, or its failure, whichever
comes first; a success that saw no counts is recorded only for the executors whose legacy
counterpart calls ``ensurePublished`` (``tokens.ALWAYS_RECORDED``).
"""

from __future__ import annotations

from typing import Any

import orjson

from handlers.auth.credential import stable_index
from handlers.credentials.views import view_auth_index
from handlers.providers.base import APIKeyCredential

from .statistics import RequestDetail, RequestStatistics, Timestamp, UsageRecord
from .tokens import ALWAYS_RECORDED, EXECUTOR_KINDS, TokenStats, stream_event_usage, whole_answer_usage

# Where the inference endpoints keep the client key that authenticated the request.
CLIENT_KEY = "quotio.client_key"


_AMP_PROVIDER = "/api/provider/"
_AMP_GEMINI_BRIDGE = "/api/provider/google/v1beta1/"


def usage_api(method: str, path: str) -> str:
    """The bucket without client keys: the method and Gin's route pattern (``FullPath``)."""
    if path.startswith(_AMP_GEMINI_BRIDGE):
        # amp/routes.go:245: a static route beside the :provider group, so it keeps "google".
        path = _AMP_GEMINI_BRIDGE + "*path"
    elif path.startswith(_AMP_PROVIDER):
        # amp/routes.go:287-327: the provider names a parameter, not a route of its own.
        _, slash, rest = path[len(_AMP_PROVIDER):].partition("/")
        path = _AMP_PROVIDER + ":provider" + _route_pattern(slash + rest)
    else:
        path = _route_pattern(path)
    return f"{method} {path}"


def _route_pattern(path: str) -> str:
    if path.startswith("/v1beta/models/"):
        return "/v1beta/models/*action"
    if path.startswith("/v1internal:"):
        return "/v1internal:method"
    return path


def credential_identity(credential: Any, client_key: str) -> tuple[str, str]:
    """``(source, auth_index)`` for a credential: ``resolveUsageSource`` and ``EnsureIndex``."""
    if isinstance(credential, APIKeyCredential):
        key = credential.api_key.strip()
        return key or client_key.strip(), stable_index("api_key:" + key) if key else stable_index("id:" + credential.id)
    provider = credential.provider.lower()
    # A relay channel has no file: EnsureIndex falls back to its id (``RelayCredential.auth_index``).
    index = getattr(credential, "auth_index", "") if provider == "aistudio" else ""
    index = index or view_auth_index(credential.id)
    meta = credential.metadata
    if provider == "gemini-cli":
        return credential.id.strip(), index
    if provider == "vertex":
        for key in ("project_id", "project"):
            value = meta.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip(), index
    email = meta.get("email")
    if isinstance(email, str) and email.strip():
        return email.strip(), index
    return client_key.strip(), index


class UsageReporter:
    __slots__ = ("_always", "_api", "_auth_index", "_done", "_kind", "_model", "_source", "_started", "_stats")

    def __init__(self, stats: RequestStatistics, *, api: str, model: str, executor: str, credential: Any,
                 client_key: str) -> None:
        self._stats = stats
        self._api = api
        self._model = model
        self._kind = EXECUTOR_KINDS.get(executor, "")
        self._always = executor in ALWAYS_RECORDED
        self._source, self._auth_index = credential_identity(credential, client_key)
        self._started = Timestamp.now_local()
        self._done = False

    def _publish(self, tokens: TokenStats, failed: bool) -> None:
        if not tokens.total_tokens:
            total = tokens.input_tokens + tokens.output_tokens + tokens.reasoning_tokens
            if total:
                tokens = TokenStats(tokens.input_tokens, tokens.output_tokens, tokens.reasoning_tokens,
                                    tokens.cached_tokens, total)
        if self._done or (tokens.is_zero() and not failed):
            return
        self._done = True
        self._stats.record(UsageRecord(self._api, self._model,
                                       RequestDetail(self._started, self._source, self._auth_index, tokens, failed)))

    def observe(self, payload: Any) -> None:
        """One decoded stream event (the legacy reads every line for usage until it publishes)."""
        if not self._done:
            tokens = stream_event_usage(self._kind, payload)
            if tokens is not None:
                self._publish(tokens, False)

    def whole(self, body: bytes) -> None:
        """A whole answer: its usage, then, for the always-recorded executors, the request itself."""
        try:
            payload = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            payload = None
        self._publish(whole_answer_usage(self._kind, payload), False)
        self.succeeded()

    def succeeded(self) -> None:
        if self._always and not self._done:
            self._done = True
            self._stats.record(UsageRecord(self._api, self._model,
                                           RequestDetail(self._started, self._source, self._auth_index,
                                                         TokenStats(), False)))

    def failed(self) -> None:
        self._publish(TokenStats(), True)
