"""Which early stream failures ``streaming.bootstrap-retries`` re-issues.

Legacy fact: ``bootstrapEligible`` in ``sdk/api/handlers/handlers.go`` (v6.7.15): an error with no
status, 401, 402, 403, 408, 429, or any status from 500 up; nothing else.
"""

from __future__ import annotations

import pytest

from handlers.inference.pipeline import _bootstrap_retryable
from handlers.providers.base import UpstreamError, classify, transport_error


@pytest.mark.parametrize(("status", "eligible"), [
    (401, True), (402, True), (403, True), (408, True), (429, True),
    (500, True), (501, True), (503, True), (529, True), (599, True),
    (400, False), (404, False), (409, False), (413, False), (422, False), (499, False),
])
def test_bootstrap_eligibility_by_status(status: int, eligible: bool) -> None:
    assert _bootstrap_retryable(classify(status, b'{"error":{"message":"x"}}')) is eligible


def test_an_error_without_status_is_eligible() -> None:
    assert _bootstrap_retryable(transport_error("connection reset")) is True


def test_eligibility_reads_the_status_not_the_scope() -> None:
    # A Google key refusal is a "credential" error to rotation, but still a 400 to the handler.
    refused = classify(400, b'{"error":{"code":400,"message":"API key not valid. Please pass a valid API key."}}')
    assert refused.scope == "credential"
    assert _bootstrap_retryable(refused) is False
    assert _bootstrap_retryable(UpstreamError("request", 401, b"")) is True
