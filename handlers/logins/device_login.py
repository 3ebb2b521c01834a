"""The plumbing the three device-code logins (Qwen, GitHub Copilot, Kiro Builder ID) share.

Each login object holds the same five things (HTTP session, endpoint entry, poll timing, and the
injectable ``sleep``/``clock``), reads the device endpoint's answer into a
:class:`DeviceAuthorization` the same way (only the JSON key spelling differs: AWS uses camelCase)
and classifies a poll answer the same way. What differs per provider (request bodies, the token
shape, which endpoint entry it accepts) stays in the provider's module.
"""

from __future__ import annotations

import abc
import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import aiohttp

from handlers.logins.device_http import EndpointAnswer, TokenEndpointError, require_token_json
from handlers.logins.device_poll import (
    Clock,
    DeviceAuthorization,
    DeviceFlowError,
    PollOutcome,
    PollTiming,
    Sleep,
    as_int,
    as_str,
    classify_oauth_error,
    poll_for_token,
)
from handlers.logins.endpoints import ProviderEndpoints

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"

E = TypeVar("E", bound=ProviderEndpoints)


@dataclass(frozen=True)
class DeviceAnswerKeys:
    """How one provider spells the device endpoint's fields (``complete`` empty: never read)."""

    device_code: str
    user_code: str
    verification_uri: str
    complete: str
    expires_in: str


SNAKE_KEYS = DeviceAnswerKeys("device_code", "user_code", "verification_uri", "verification_uri_complete",
                              "expires_in")
CAMEL_KEYS = DeviceAnswerKeys("deviceCode", "userCode", "verificationUri", "verificationUriComplete", "expiresIn")


@contextmanager
def as_device_error() -> Iterator[None]:
    """Turn an endpoint fault into the device flow's own error, keeping its reason and text."""
    try:
        yield
    except TokenEndpointError as exc:
        raise DeviceFlowError(exc.reason, str(exc)) from None


def device_authorization(body: dict[str, Any], what: str, keys: DeviceAnswerKeys, *, code_verifier: str = "",
                         extra: dict[str, str] | None = None) -> DeviceAuthorization:
    """The device endpoint's answer; an answer without a device code ends the login."""
    device_code = as_str(body.get(keys.device_code))
    if not device_code:
        raise DeviceFlowError("bad_response", f"{what} failed: no {keys.device_code} in the answer")
    return DeviceAuthorization(
        device_code=device_code,
        user_code=as_str(body.get(keys.user_code)),
        verification_uri=as_str(body.get(keys.verification_uri)),
        verification_uri_complete=as_str(body.get(keys.complete)) if keys.complete else "",
        expires_in=float(as_int(body.get(keys.expires_in))),
        interval=float(as_int(body.get("interval"))),
        code_verifier=code_verifier,
        extra=extra if extra is not None else {},
    )


def poll_verdict(answer: EndpointAnswer, url: str, what: str) -> PollOutcome:
    """One token-endpoint answer: an RFC 8628 ``error`` decides the verdict, else it holds the token."""
    if answer.error_code:
        return classify_oauth_error(answer.error_code, answer.error_description)
    return PollOutcome.done(require_token_json(answer, url, what))


class DeviceLogin(abc.ABC, Generic[E]):
    """Base of a provider's device login: start, poll until the user finishes; nothing is saved."""

    # Name in the poll loop's log lines, and the timing used when the caller passes none.
    provider: ClassVar[str]
    default_timing: ClassVar[PollTiming]

    def __init__(self, session: aiohttp.ClientSession, endpoints: ProviderEndpoints, *,
                 timing: PollTiming | None = None, sleep: Sleep = asyncio.sleep,
                 clock: Clock = time.monotonic) -> None:
        self.session = session
        self.endpoints: E = self.accept_endpoints(endpoints)
        self.timing = timing if timing is not None else self.default_timing
        self.sleep = sleep
        self.clock = clock

    @abc.abstractmethod
    def accept_endpoints(self, endpoints: ProviderEndpoints) -> E:
        """The endpoint entry in the provider's own type; raises TypeError for a wrong entry."""

    @abc.abstractmethod
    async def _poll_once(self, authorization: DeviceAuthorization) -> PollOutcome:
        """One request to the token endpoint, classified."""

    async def poll_token_body(self, authorization: DeviceAuthorization) -> dict[str, Any]:
        """Poll the token endpoint until it hands out the token JSON (or the login ends)."""
        return await poll_for_token(lambda: self._poll_once(authorization), authorization, self.timing,
                                    provider=self.provider, sleep=self.sleep, clock=self.clock)
