"""Pydantic schema of flags.yaml (the same document PUT /v0/gateway/flags takes as JSON)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "*"})


class Mode(StrEnum):
    LEGACY = "legacy"
    SHADOW = "shadow"
    CANARY = "canary"
    NATIVE = "native"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class LegacySettings(_Strict):
    """Where the legacy CLIProxyAPI listens, or how to start it."""

    url: str | None = None
    binary: str | None = None
    args: list[str] = Field(default_factory=list)
    # Internal loopback port the supervised binary is told to listen on.
    port: int = Field(default=18317, ge=1, le=65535)
    health_path: str = "/"
    connect_timeout: float = Field(default=5.0, gt=0)
    # Longest silence between two upstream reads before the request is failed.
    read_timeout: float = Field(default=600.0, gt=0)
    pool_size: int = Field(default=256, ge=1)
    restart_backoff_max: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _one_source(self) -> LegacySettings:
        if self.url and self.binary:
            raise ValueError("set either legacy.url or legacy.binary, not both")
        if self.url and not self.url.startswith(("http://", "https://")):
            raise ValueError("legacy.url must start with http:// or https://")
        return self


class ShadowSettings(_Strict):
    max_concurrency: int = Field(default=16, ge=1)
    timeout_seconds: float = Field(default=30.0, gt=0)
    # Bodies above this many bytes are not compared (counted as skipped).
    max_compare_bytes: int = Field(default=1_048_576, ge=1024)
    # Mismatch samples kept in SQLite (oldest pruned first).
    max_samples: int = Field(default=1000, ge=1)
    sample_bytes: int = Field(default=8192, ge=256)
    # At most one stored sample per route per interval: a route that mismatches on every request
    # must not turn every request into a SQLite write (the counters still count them all).
    sample_interval_seconds: float = Field(default=1.0, ge=0)
    # Native legs and comparisons run in a low-priority worker process (shadow/remote.py), so
    # shadowing adds no CPU to the client's event loop. Read at start-up.
    worker: bool = True


class ServerSettings(_Strict):
    route_header: bool = True
    # Peers whose X-Forwarded-For / X-Real-IP we believe (CIDR or address).
    trusted_proxies: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    shutdown_grace_seconds: float = Field(default=1.5, ge=0)
    state_dir: str | None = None
    # The head-parsing front door: legacy pass-through and small native POSTs answered below
    # aiohttp's server (frontdoor.py, frontdoor_native.py). Read at start-up.
    front_door: bool = True


class Route(_Strict):
    match: str
    mode: Mode
    model: str | None = None
    percent: Annotated[float, Field(ge=0, le=100)] = 0.0
    sample: Annotated[float, Field(ge=0, le=1)] = 1.0
    fallback_to_legacy: bool = False
    # Inference POSTs spend quota on both legs, so shadowing them is opt-in per route.
    shadow_llm: bool = False

    @field_validator("match")
    @classmethod
    def _match_shape(cls, value: str) -> str:
        parts = value.strip().split()
        if len(parts) != 2:
            raise ValueError('match must look like "METHOD /path"')
        method, path = parts[0].upper(), parts[1]
        if method == "ANY":
            method = "*"
        if method not in HTTP_METHODS:
            raise ValueError(f"unknown HTTP method {parts[0]!r}")
        if not path.startswith("/"):
            raise ValueError("path must start with /")
        return f"{method} {path}"

    @model_validator(mode="after")
    def _canary_needs_percent(self) -> Route:
        if self.mode is Mode.CANARY and "percent" not in self.model_fields_set:
            raise ValueError("canary routes need a percent (0-100)")
        return self


class FlagTable(_Strict):
    version: int = 1
    default: Mode = Mode.LEGACY
    legacy: LegacySettings = Field(default_factory=LegacySettings)
    shadow: ShadowSettings = Field(default_factory=ShadowSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    routes: list[Route] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_routes(self) -> FlagTable:
        seen: set[tuple[str, str | None]] = set()
        for route in self.routes:
            key = (route.match, route.model)
            if key in seen:
                raise ValueError(f"duplicate route {route.match!r} (model {route.model!r})")
            seen.add(key)
        return self
