"""Compiled form of the flag table: route decisions from the request head without per-request compiling.

Patterns are split into segments once at load. A segment is a literal, ``*`` (exactly one
segment), a glob inside one segment (``*:streamGenerateContent``), or a trailing ``*`` that
takes one or more remaining segments. The first listed route that matches wins, in file order.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from dataclasses import dataclass, field

from .schema import FlagTable, Mode, Route

DEFAULT_ROUTE_LABEL = "(default)"
_CACHE_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class Decision:
    mode: Mode
    route: Route | None
    label: str
    version: int

    @property
    def fallback_to_legacy(self) -> bool:
        return bool(self.route and self.route.fallback_to_legacy)


@dataclass(slots=True)
class _Segment:
    literal: str | None = None
    glob: re.Pattern[str] | None = None  # None with literal None means "any one segment"

    def matches(self, part: str) -> bool:
        if self.literal is not None:
            return part == self.literal
        if self.glob is not None:
            return self.glob.fullmatch(part) is not None
        return True


@dataclass(slots=True)
class _CompiledRoute:
    route: Route
    method: str
    segments: list[_Segment]
    tail: bool  # last pattern segment was a bare "*" that swallows the rest
    model: re.Pattern[str] | None = None
    index: int = 0

    def path_matches(self, parts: list[str]) -> bool:
        n = len(self.segments)
        if self.tail:
            if len(parts) < n + 1:
                return False
        elif len(parts) != n:
            return False
        for seg, part in zip(self.segments, parts, strict=False):
            if not seg.matches(part):
                return False
        return True


def split_path(path: str) -> list[str]:
    return path.strip("/").split("/") if path not in ("", "/") else []


def _compile_segment(text: str) -> _Segment:
    if text == "*":
        return _Segment()
    if "*" in text or "?" in text:
        return _Segment(glob=re.compile(fnmatch.translate(text)))
    return _Segment(literal=text)


def compile_route(route: Route, index: int) -> _CompiledRoute:
    method, path = route.match.split(" ", 1)
    raw = split_path(path)
    tail = bool(raw) and raw[-1] in ("*", "**")
    if tail:
        raw = raw[:-1]
    model = re.compile(fnmatch.translate(route.model), re.IGNORECASE) if route.model else None
    return _CompiledRoute(route, method, [_compile_segment(s) for s in raw], tail, model, index)


@dataclass(slots=True)
class MatchResult:
    decision: Decision
    # True when a model-conditioned route matched the path, so the body's model decides.
    needs_model: bool = False


@dataclass
class CompiledTable:
    table: FlagTable
    version: int
    _by_method: dict[str, list[_CompiledRoute]] = field(default_factory=dict)
    _any: list[_CompiledRoute] = field(default_factory=list)
    _cache: dict[tuple[str, str], MatchResult] = field(default_factory=dict)
    trusted_proxies: tuple[str, ...] = ()

    @classmethod
    def build(cls, table: FlagTable, version: int) -> CompiledTable:
        compiled = cls(table, version, trusted_proxies=tuple(table.server.trusted_proxies))
        routes = [compile_route(r, i) for i, r in enumerate(table.routes)]
        compiled._any = [r for r in routes if r.method == "*"]
        for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
            own = [r for r in routes if r.method == method or r.method == "*"]
            compiled._by_method[method] = sorted(own, key=lambda r: r.index)
        return compiled

    def _default(self) -> Decision:
        return Decision(self.table.default, None, DEFAULT_ROUTE_LABEL, self.version)

    def _decision(self, route: Route) -> Decision:
        return Decision(route.mode, route, route.match if not route.model else f"{route.match} [{route.model}]",
                        self.version)

    def match(self, method: str, path: str, model: str | None = None, *, model_known: bool = False
              ) -> MatchResult:
        """Decide a route. Without ``model_known`` a model-conditioned route asks for the model."""
        if not model_known:
            key = (method, path)
            hit = self._cache.get(key)
            if hit is not None:
                return hit
        candidates = self._by_method.get(method, self._any)
        parts = split_path(path)
        result: MatchResult | None = None
        for compiled in candidates:
            if not compiled.path_matches(parts):
                continue
            if compiled.model is not None:
                if not model_known:
                    result = MatchResult(self._default(), needs_model=True)
                    break
                if model and compiled.model.fullmatch(model):
                    result = MatchResult(self._decision(compiled.route))
                    break
                continue
            result = MatchResult(self._decision(compiled.route))
            break
        if result is None:
            result = MatchResult(self._default())
        if not model_known:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[(method, path)] = result
        return result

    def route_labels(self) -> list[tuple[str, str]]:
        """(label, mode) for every listed route plus the default, for the mode gauge."""
        labels = [(self._decision(r).label, r.mode.value) for r in self.table.routes]
        labels.append((DEFAULT_ROUTE_LABEL, self.table.default.value))
        return labels


def canary_bucket(label: str, stickiness: str) -> float:
    """Stable position in [0, 100) for a client on a route: the same client stays on one side."""
    digest = hashlib.blake2b(f"{label}\x00{stickiness}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 10000 / 100.0
