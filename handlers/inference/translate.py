"""The seam between the inference pipeline and the sans-io translators.

A *pair* is one client format -> upstream format route of CLIProxyAPI's translator registry. The
pipeline knows nothing about any format: it asks the pair table for a ``Translation``, sends
``upstream_body`` through the executor of the chosen credential, and feeds what comes back
through the translation, which hands out bytes already framed for the client protocol.

Pair modules (``pairs_*.py``) each export ``PAIRS: dict[tuple[Format, Format], PairFactory]``;
``pair_table.py`` merges them. A factory is a plain function, so a pair needing a special rule
keeps it in its own factory, visible beside the generic ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from handlers.providers.base import StreamEvent
from handlers.translation.model import Format


@dataclass(slots=True)
class TranslateInput:
    """Everything a translator may read about the client's request.

    ``body`` is the client's JSON object (already parsed; translators must not mutate it).
    ``model`` is the model to put in the upstream body: the upstream name after prefix and alias
    rewriting, thinking suffix kept (thinking is applied by the pipeline after translation).
    ``client_model`` is the model the client asked for (what answers echo where the legacy does).
    ``stream`` is whether the client asked for a stream. ``alt`` is the Gemini ``alt`` query value
    already normalised (``""`` for SSE). ``headers`` are the client's request headers.
    """

    body: dict[str, Any]
    model: str
    client_model: str
    stream: bool
    alt: str = ""
    raw: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


class StreamTranslator(Protocol):
    """Turns upstream stream events into client wire bytes.

    ``feed`` gets each upstream item in order: a ``StreamEvent`` for SSE upstreams, raw ``bytes``
    for a Gemini ``alt=json`` upstream. It returns zero or more byte strings, each already framed
    for the client (``data: …\\n\\n``, ``event: …``, a bare Gemini JSON chunk, …). ``close`` is
    called once when the upstream ended cleanly and returns the closing frames (``data: [DONE]``,
    the Responses ``\\n``, nothing for Claude). A mid-stream failure is framed by the pipeline,
    not here.
    """

    def feed(self, item: StreamEvent | bytes) -> list[bytes]: ...

    def close(self) -> list[bytes]: ...


class Translation(Protocol):
    """One request's translation state.

    ``upstream_body`` is the JSON to send upstream (before thinking, payload rules and the
    executor's last-mile edits). ``upstream_stream`` says whether to ask the upstream for a
    stream: it may be True for a non-stream client (the legacy folds Claude and Codex streams).
    ``response`` turns the whole upstream answer into the client's JSON body: the upstream JSON
    body for a non-stream upstream call, or the full SSE body bytes when ``upstream_stream`` was
    forced for a non-stream client. ``stream`` gives the translator for a streaming client.
    """

    upstream_body: dict[str, Any]
    upstream_stream: bool

    def response(self, upstream: bytes) -> bytes: ...

    def stream(self) -> StreamTranslator: ...


PairFactory = Callable[[TranslateInput], Translation]
PairKey = tuple[Format, Format]


class TranslationError(ValueError):
    """The client's request cannot be translated (answered as a 400 ``invalid_request_error``)."""
