"""What a client hang-up leaves on the credential that was serving it.

CLIProxyAPI v6.7.15 (9b72ea9ef): the request context is cancelled, the executor's upstream call or
body read fails with a plain error, and the conductor records that with ``MarkResult`` as a failure
without an HTTP status (conductor.go:597-610 and 694-706 before the first byte, 708-720
mid-stream). Its default branch (1376-1377) sets no cooldown, so the credential stays pickable. Before the first byte
the pick loop goes on without looking at the context (666-707), so every other pickable credential
is picked and fails the same way, each pick moving the round-robin cursor.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from handlers.providers.base import credentials_from_config
from handlers.rotation import CLIENT_GONE
from handlers.rotation.state import ERROR, NOT_BLOCKED
from tests.conftest import eventually
from tests.fakes.llm_upstream import FakeLLM, Fault
from tests.handlers.inference.test_faults import CLAUDE_MODEL, MakeGateway, chat, claude, runtime_of, upstreams_config
from tests.handlers.inference.test_faults_stream import GatedUpstream, gated_config, read_until


def claude_ids(client: Any) -> dict[str, str]:
    """Credential id -> API key of the Claude keys, in the order the selector sorts them."""
    runtime = runtime_of(client)
    pairs = {c.id: c.api_key for c in credentials_from_config(runtime.config) if c.provider == "claude"}
    return dict(sorted(pairs.items()))


async def wait_for_state(client: Any, cred_id: str, model: str) -> Any:
    state = runtime_of(client).state
    await eventually(lambda: state.get(cred_id, model) is not None)
    return state.get(cred_id, model)


def assert_client_gone(client: Any, got: Any, cred_id: str) -> None:
    assert (got.unavailable, got.status, got.last_status, got.last_reason, got.next_retry_after) == \
        (True, ERROR, None, CLIENT_GONE, None)
    assert runtime_of(client).state.block(cred_id, CLAUDE_MODEL) == NOT_BLOCKED


async def test_hang_up_mid_stream_records_a_status_less_failure(gateway: MakeGateway, gated: GatedUpstream) -> None:
    client = await gateway(gated_config(gated))
    (cred_id,) = claude_ids(client)
    resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL, stream=True))
    assert resp.status == 200
    await read_until(resp, b"Hello")
    resp.close()  # the client hangs up with the upstream still streaming
    await asyncio.wait_for(gated.cancelled.wait(), 5)
    assert_client_gone(client, await wait_for_state(client, cred_id, CLAUDE_MODEL), cred_id)
    # No cooldown: the same credential serves the next request, and its success clears the mark.
    gated.gate.set()
    resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL, stream=True))
    assert resp.status == 200
    assert (await resp.read()).endswith(b'event: message_stop\ndata: {"type": "message_stop"}\n\n')
    assert gated.requests == 2
    assert runtime_of(client).state.get(cred_id, CLAUDE_MODEL) is None


@pytest.mark.parametrize("stream", [False, True])
async def test_hang_up_before_the_first_byte_marks_the_whole_pass(gateway: MakeGateway, fake_llm: FakeLLM,
                                                                  stream: bool) -> None:
    client = await gateway(upstreams_config(fake_llm.root, claude_keys=("k1", "k2", "k3")))
    ids = claude_ids(client)
    first_id, first_key = next(iter(ids.items()))
    fake_llm.script(first_key, Fault("stall", seconds=5))
    task = asyncio.ensure_future(client.post("/v1/chat/completions", json=chat(CLAUDE_MODEL, stream=stream)))
    await eventually(lambda: bool(fake_llm.requests))
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    for cred_id in ids:
        assert_client_gone(client, await wait_for_state(client, cred_id, CLAUDE_MODEL), cred_id)
    # One upstream call only: the other two were picked and marked without calling out.
    assert [r.key for r in fake_llm.requests] == [first_key]
    # Three picks moved the round-robin cursor three times, so the next request starts over at the
    # first credential (one pick would have moved it on to the second).
    resp = await client.post("/v1/chat/completions", json=chat(CLAUDE_MODEL))
    assert resp.status == 200
    assert [r.key for r in fake_llm.requests] == [first_key, first_key]
    assert runtime_of(client).state.get(first_id, CLAUDE_MODEL) is None



@pytest.mark.parametrize("stream", [False, True])
async def test_hang_up_before_the_first_byte_records_a_failed_call_per_pick(gateway: MakeGateway,
                                                                           fake_llm: FakeLLM, stream: bool) -> None:
    """Each credential the legacy's pass still picks runs its executor, whose call fails on the
    dead context; the reporter each executor opened records that failure (``trackFailure``,
    claude_executor.go:95 and 228, usage_helpers.go:53-60): one failed record per pick, filed
    under its own key."""
    client = await gateway(upstreams_config(fake_llm.root, "usage-statistics-enabled: true\n",
                                            claude_keys=("k1", "k2", "k3")))
    first_key = next(iter(claude_ids(client).values()))
    fake_llm.script(first_key, Fault("stall", seconds=5))
    task = asyncio.ensure_future(client.post("/v1/chat/completions", json=chat(CLAUDE_MODEL, stream=stream)))
    await eventually(lambda: bool(fake_llm.requests))
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    usage = runtime_of(client).usage
    await eventually(lambda: usage.total_requests == 3)
    [model] = [m for api in usage.snapshot()["apis"].values() for m in api["models"].items()]
    assert model[0] == CLAUDE_MODEL
    assert sorted((d["source"], d["failed"], d["tokens"]["total_tokens"]) for d in model[1]["details"]) == [
        ("k1", True, 0), ("k2", True, 0), ("k3", True, 0)]
    assert [r.key for r in fake_llm.requests] == [first_key]
