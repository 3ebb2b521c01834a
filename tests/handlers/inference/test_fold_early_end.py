"""What a non-stream answer folded from a stream that ended early leaves on the credential
(compatibility row 4a; handlers/rotation/conductor.py ``_one_pass``)."""

from __future__ import annotations

from tests.fakes.llm_upstream import FakeLLM, Fault
from tests.handlers.inference.test_client_gone import claude_ids
from tests.handlers.inference.test_faults import CLAUDE_MODEL, MakeGateway, chat, runtime_of, upstreams_config


async def test_a_folded_stream_that_ends_early_is_the_credentials_success(gateway: MakeGateway,
                                                                          fake_llm: FakeLLM) -> None:
    """Compatibility row 4a: the non-stream answer folded from a Claude stream cut short is tried
    on the next credential, but the cut credential is marked as the legacy's Execute saw it, a
    success (its partial answer was returned): no failure, no status, nothing kept on record."""
    client = await gateway(upstreams_config(fake_llm.root, claude_keys=("k1", "k2")))
    first_id, second_id = claude_ids(client)
    cut_key = claude_ids(client)[first_id]
    fake_llm.script(cut_key, Fault("cut", after=3))
    resp = await client.post("/v1/chat/completions", json=chat(CLAUDE_MODEL))
    assert resp.status == 200
    state = runtime_of(client).state
    assert state.get(first_id, CLAUDE_MODEL) is None
    assert state.message_of(first_id) == ""
    assert [r.key for r in fake_llm.requests] == [cut_key, claude_ids(client)[second_id]]


def _details(client: object) -> list[tuple[str, bool, int]]:
    """(source, failed, total tokens) of every usage record, in order."""
    snapshot = runtime_of(client).usage.snapshot()
    return [(d["source"], d["failed"], d["tokens"]["total_tokens"]) for api in snapshot["apis"].values()
            for model in api["models"].values() for d in model["details"]]


async def test_a_folded_stream_that_ends_early_is_no_failed_usage_record(gateway: MakeGateway,
                                                                         fake_llm: FakeLLM) -> None:
    """The legacy's Claude Execute reads the cut body whole and reports usage only from a
    ``message_delta`` it met (claude_executor.go:183-190, usage_helpers.go:257-276), and records
    no failure since the call returned no error: a cut before that event leaves no record at all.
    The next credential's answer is the one success."""
    client = await gateway(upstreams_config(fake_llm.root, "usage-statistics-enabled: true\n",
                                            claude_keys=("k1", "k2")))
    first_id, second_id = claude_ids(client)
    cut_key, serving_key = claude_ids(client)[first_id], claude_ids(client)[second_id]
    fake_llm.script(cut_key, Fault("cut", after=3))
    resp = await client.post("/v1/chat/completions", json=chat(CLAUDE_MODEL))
    assert resp.status == 200
    assert _details(client) == [(serving_key, False, 16)]
    # Cut after message_delta: the usage it carried is the cut call's record, a success.
    fake_llm.script(serving_key, Fault("cut", after=9))
    fake_llm.script(cut_key, Fault("cut", after=9))
    resp = await client.post("/v1/chat/completions", json=chat(CLAUDE_MODEL))
    assert resp.status == 500
    assert sorted(_details(client)[1:]) == sorted([(cut_key, False, 16), (serving_key, False, 16)])
