"""RFC 8628 device-authorization polling shared by the Qwen, GitHub Copilot and Kiro Builder ID logins.

Each provider words its token endpoint differently (Qwen answers 400 while waiting, GitHub answers
200 with an ``error`` field, AWS SSO-OIDC uses camelCase), so a provider only supplies ``attempt``:
one request to its token endpoint, classified into a :class:`PollOutcome`. The loop here owns the
timing rules every provider shares: wait ``interval`` before each poll, grow it on ``slow_down``
(each provider has its own growth rule), stop at the code's ``expires_in`` or the login's own bound,
whichever comes first, and fail at once on ``expired_token`` / ``access_denied``.

``sleep`` and ``clock`` are injected so tests can check the exact waits without spending them.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from handlers.logins.device_http import TokenEndpointError

log = structlog.get_logger("handlers.logins.device")

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]

# RFC 8628 §3.5 error codes a token endpoint answers while the user has not finished.
PENDING = "authorization_pending"
SLOW_DOWN = "slow_down"
EXPIRED = "expired_token"
DENIED = "access_denied"


class DeviceFlowError(RuntimeError):
    """A device login that ended without a token.

    ``reason`` is a stable code for callers and tests: ``expired`` (the code ran out, by the
    provider's word or our deadline), ``denied`` (the user refused), ``provider_error`` (any other
    OAuth error), ``bad_response`` (not the JSON we need), ``http_error`` (an unexpected status),
    ``unreachable`` (the provider could not be reached).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class DeviceAuthorization:
    """What the device endpoint handed out; ``code_verifier`` is set for PKCE logins (Qwen)."""

    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: float
    interval: float
    code_verifier: str = field(default="", repr=False)
    # Provider-specific extras needed to poll (Kiro's registered client id/secret).
    extra: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def browser_url(self) -> str:
        """The page to open: the one with the code filled in when the provider offers it."""
        return self.verification_uri_complete or self.verification_uri


@dataclass(frozen=True)
class PollOutcome:
    """One poll's verdict: ``pending``, ``slow_down``, or ``token`` with the endpoint's JSON."""

    kind: str
    token: dict[str, Any] | None = field(default=None, repr=False)

    @classmethod
    def pending(cls) -> PollOutcome:
        return cls("pending")

    @classmethod
    def slow_down(cls) -> PollOutcome:
        return cls("slow_down")

    @classmethod
    def done(cls, token: dict[str, Any]) -> PollOutcome:
        return cls("token", token)


def classify_oauth_error(code: str, description: str = "") -> PollOutcome:
    """Map an RFC 8628 ``error`` value to the loop's verdict; terminal codes raise."""
    if code == PENDING:
        return PollOutcome.pending()
    if code == SLOW_DOWN:
        return PollOutcome.slow_down()
    if code == EXPIRED:
        raise DeviceFlowError("expired", "device code expired; start the login again")
    if code == DENIED:
        raise DeviceFlowError("denied", "authorization denied by the user; start the login again")
    detail = f"{code}: {description}" if description else code
    raise DeviceFlowError("provider_error", f"device token poll failed ({detail})")


@dataclass
class PollTiming:
    """The timing rules of one provider's device login."""

    # Used when the provider sends no interval (or zero).
    default_interval: float = 5.0
    # Floor applied to the provider's interval (GitHub's client never polls faster than 5 s).
    min_interval: float = 0.0
    # Our own bound on the whole wait, on top of the code's ``expires_in``.
    max_wait: float = 900.0
    # How ``slow_down`` changes the interval.
    on_slow_down: Callable[[float], float] = lambda current: current + 5.0

    def first_interval(self, announced: float) -> float:
        base = announced if announced > 0 else self.default_interval
        return max(base, self.min_interval)


async def poll_for_token(
    attempt: Callable[[], Awaitable[PollOutcome]],
    authorization: DeviceAuthorization,
    timing: PollTiming,
    *,
    provider: str,
    sleep: Sleep = asyncio.sleep,
    clock: Clock = time.monotonic,
) -> dict[str, Any]:
    """Poll until a token arrives, the user refuses, or the wait runs out.

    Transport failures are retried until the deadline (a flaky network should not cost the user
    the login they are typing in); HTTP and JSON faults come back from ``attempt`` as
    :class:`DeviceFlowError` and end the login, as the legacy clients do.
    """
    interval = timing.first_interval(authorization.interval)
    budget = timing.max_wait
    if authorization.expires_in > 0:
        budget = min(budget, authorization.expires_in)
    deadline = clock() + budget
    polls = 0
    while True:
        if clock() + interval > deadline:
            raise DeviceFlowError("expired", f"timed out after {budget:g}s waiting for the user to authorize")
        await sleep(interval)
        polls += 1
        try:
            outcome = await attempt()
        except TokenEndpointError as exc:
            if exc.reason != "unreachable":
                raise DeviceFlowError(exc.reason, str(exc)) from None
            log.warning("device token poll failed, retrying", provider=provider, poll=polls, error=str(exc))
            continue
        if outcome.kind == "token" and outcome.token is not None:
            log.info("device login authorized", provider=provider, polls=polls)
            return outcome.token
        if outcome.kind == "slow_down":
            interval = timing.on_slow_down(interval)
            log.info("device token endpoint asked to slow down", provider=provider, interval=interval)


def pkce_pair() -> tuple[str, str]:
    """A PKCE verifier (32 random bytes, base64url without padding) and its S256 challenge."""
    verifier = secrets.token_urlsafe(32)
    return verifier, s256_challenge(verifier)


def s256_challenge(verifier: str) -> str:
    return create_s256_code_challenge(verifier)


def as_int(value: Any, default: int = 0) -> int:
    """Numbers from provider JSON, which may arrive as ints, floats or digit strings."""
    if isinstance(value, bool):
        return default
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return default


def as_str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


@dataclass
class LoginIO:
    """How a CLI login talks to the person at the terminal; tests pass silent stand-ins."""

    say: Callable[[str], None] = print
    # Returns False when no browser could be opened; the URL is then printed for the user.
    open_browser: Callable[[str], bool] | None = None
    no_browser: bool = False
    # Asks for a value (Qwen's email or alias); None means non-interactive.
    prompt: Callable[[str], Awaitable[str]] | None = None

    def show_url(self, url: str, what: str) -> None:
        opened = False
        if not self.no_browser and self.open_browser is not None:
            try:
                opened = bool(self.open_browser(url))
            except Exception as exc:  # a broken browser launcher must not end the login
                log.warning("could not open a browser", error=type(exc).__name__)
        if opened:
            self.say(f"Opened your browser for {what}. If nothing appears, visit:\n{url}")
        else:
            self.say(f"Visit this URL to continue {what}:\n{url}")
