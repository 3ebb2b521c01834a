"""Usage records the legacy would not make (black-box findings, area usage2)."""

from __future__ import annotations

from handlers.usage.tokens import stream_event_usage

_USAGE = {"input_tokens": 6, "output_tokens": 4, "total_tokens": 10}


def test_codex_usage_is_read_only_off_response_completed() -> None:
    # codex_executor.go:170 and :288 look at response.completed lines only: a response.incomplete
    # (max_output_tokens) or response.failed carries usage that the legacy never records.
    for kind in ("response.incomplete", "response.failed", "response.in_progress"):
        assert stream_event_usage("codex", {"type": kind, "response": {"usage": _USAGE}}) is None
    done = stream_event_usage("codex", {"type": "response.completed", "response": {"usage": _USAGE}})
    assert done is not None and done.total_tokens == 10

