"""``ampcode.model-mappings``: a requested model no local provider serves, renamed to one that is.

As ``model_mapping.go``: exact ``from`` names match case-insensitively; ``regex: true`` entries are
searched (unanchored, case-insensitive) in order after them; a target counts only while some local
provider serves it; a thinking suffix on the request carries over unless the target names its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog

from handlers.models.registry import split_thinking_suffix
from quotio_gateway.config.models import AmpModelMapping
from quotio_gateway.gostrings import go_lower, go_trim

log = structlog.get_logger("handlers.amp.model_mapping")

# model -> the providers serving exactly that ID (``util.GetProviderName``)
ProviderLookup = Callable[[str], Sequence[str]]


@dataclass(frozen=True, slots=True)
class ModelMapper:
    exact: dict[str, str]
    patterns: tuple[tuple[re.Pattern[str], str], ...]

    @classmethod
    def build(cls, mappings: Sequence[AmpModelMapping]) -> ModelMapper:
        exact: dict[str, str] = {}
        patterns: list[tuple[re.Pattern[str], str]] = []
        for mapping in mappings:
            source, target = go_trim(mapping.from_), go_trim(mapping.to)
            if not source or not target:
                continue  # the legacy skips (and logs) an entry missing either side
            if mapping.regex:
                try:
                    patterns.append((re.compile(source, re.IGNORECASE), target))
                except re.error:
                    log.warning("amp.model_mapping.invalid_regex", pattern=source)
                continue
            exact[go_lower(source)] = target
        return cls(exact, tuple(patterns))

    def map(self, requested: str, providers: ProviderLookup) -> str:
        """``MapModel``: the target for ``requested``, or "" when no mapping applies or no local
        provider serves the target."""
        if not requested:
            return ""
        request = split_thinking_suffix(requested)
        target = self.exact.get(go_lower(go_trim(request.name)))
        if target is None:
            target = next((to for pattern, to in self.patterns if pattern.search(request.name)), None)
            if target is None:
                return ""
        wanted = split_thinking_suffix(target)
        if not providers(wanted.name):
            return ""
        if wanted.suffix is not None:
            return target  # the config's own suffix wins over the client's
        if request.suffix:
            return f"{target}({request.suffix})"
        return target
