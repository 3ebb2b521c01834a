"""The answers rotation gives when no credential could be tried.

Three legacy errors end a pick (CLIProxyAPI v6.7.15 ``sdk/cliproxy/auth/selector.go`` and
``conductor.go`` ``pickNextMixed``; reference surface §4):

* ``model_cooldown``: every remaining candidate is cooling down after a 429. HTTP 429 with
  ``Retry-After`` and a JSON body whose keys come out in Go map order (alphabetical).
* ``auth_unavailable``: candidates exist but some are blocked for another reason (a 401 or 5xx
  cooldown). The Go error carries no status, so the handler answers 500.
* ``auth_not_found``: no candidate at all. Also 500.

The last two are plain text, so the handler wraps them in the OpenAI-style envelope
(``build_error_body``); the cooldown text is JSON already and passes through verbatim.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from handlers.models.listing import build_error_body
from quotio_gateway.config.gojson import go_json_dumps
from quotio_gateway.goduration import format_whole_seconds

_NS_PER_SECOND = 1_000_000_000


def _nanoseconds(seconds: float) -> int:
    # Whole nanoseconds, as Go's time.Duration holds them; also keeps float noise such as
    # 29.999999999 away from the ceiling and rounding below.
    return max(0, round(seconds * _NS_PER_SECOND))


def ceil_seconds(seconds: float) -> int:
    """``int(math.Ceil(d.Seconds()))`` for a non-negative duration."""
    return -(-_nanoseconds(seconds) // _NS_PER_SECOND)


def go_duration_seconds(seconds: float) -> str:
    """How the cooldown body shows a duration: Go ``Duration.String()`` after rounding to whole
    seconds (half away from zero), with anything between 0 and 1 s shown as ``1s``."""
    ns = _nanoseconds(seconds)
    if 0 < ns < _NS_PER_SECOND:
        whole = 1
    else:
        whole, rest = divmod(ns, _NS_PER_SECOND)
        if rest * 2 >= _NS_PER_SECOND:
            whole += 1
    return format_whole_seconds(whole)


class RotationError(Exception):
    """A pick that found nothing to try. ``text`` is the legacy error string; ``status``,
    ``headers`` and ``body`` are the exact answer the legacy handler writes for it."""

    code: str = ""
    status: int = 500

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    @property
    def headers(self) -> Mapping[str, str]:
        return MappingProxyType({"Content-Type": "application/json"})

    @property
    def body(self) -> bytes:
        return build_error_body(self.status, self.text)


class AuthNotFoundError(RotationError):
    """No credential serves the model at all (or every one was already tried in this pass)."""

    code = "auth_not_found"

    def __init__(self) -> None:
        super().__init__("auth_not_found: no auth available")


class AuthUnavailableError(RotationError):
    """Every candidate is blocked, and not all of them for quota."""

    code = "auth_unavailable"

    def __init__(self) -> None:
        super().__init__("auth_unavailable: no auth available")


class ModelCooldownError(RotationError):
    """Every candidate is cooling down after a 429; ``reset_in`` is seconds until the first is
    usable again. ``provider`` stays empty on the mixed picker the handlers use."""

    code = "model_cooldown"
    status = 429

    def __init__(self, model: str, reset_in: float, provider: str = "") -> None:
        self.model = model
        self.provider = provider
        self.reset_in = max(0.0, reset_in)
        self.reset_seconds = ceil_seconds(self.reset_in)
        name = model or "requested model"
        message = f"All credentials for model {name} are cooling down"
        if provider:
            message += f" via provider {provider}"
        detail: dict[str, object] = {"code": "model_cooldown", "message": message, "model": model}
        if provider:
            detail["provider"] = provider
        detail["reset_seconds"] = self.reset_seconds
        detail["reset_time"] = go_duration_seconds(self.reset_in)
        super().__init__(go_json_dumps({"error": detail}).decode())

    @property
    def headers(self) -> Mapping[str, str]:
        return MappingProxyType({"Content-Type": "application/json", "Retry-After": str(self.reset_seconds)})

    @property
    def body(self) -> bytes:
        return self.text.encode()
