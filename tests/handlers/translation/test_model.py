"""Internal model helpers: data-URL splitting, stream folding, and the registered pair matrix."""

from __future__ import annotations

import pytest

from handlers.translation import IMPLEMENTED_PAIRS, REGISTERED_PAIRS, TOKEN_COUNT_CLIENTS
from handlers.translation.model import (
    Finish,
    FinishReason,
    Format,
    MessageStart,
    SignatureDelta,
    TextDelta,
    TextPart,
    ThinkingDelta,
    ThinkingPart,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallPart,
    ToolCallStart,
    Usage,
    UsageReport,
    collect_response,
    split_data_url,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("data:image/png;base64,AAA", ("image/png", "AAA")),
        ("data:image/jpeg,BBB", ("image/jpeg", "BBB")),
        ("data:image/png;base64,A,B", None),  # A2.1: exactly one comma
        ("https://example.com/x.png", None),
    ],
)
def test_split_data_url(url: str, expected: tuple[str, str] | None) -> None:
    # A2.1 user row: data URL split
    assert split_data_url(url) == expected


def test_collect_response_merges_runs_and_finishes_tools() -> None:
    # A2.2 non-stream aggregation ("{}" for argument-less calls)
    usage = Usage(Format.CLAUDE, input_tokens=1)
    resp = collect_response(
        [
            MessageStart("id1", "m", 3),
            ThinkingDelta("a"),
            ThinkingDelta("b"),
            SignatureDelta("sig"),
            TextDelta("x"),
            TextDelta("y"),
            ToolCallStart(1, "t1", "f"),
            ToolCallDelta(1, '{"a"'),
            ToolCallDelta(1, ":1}"),
            ToolCallEnd(1),
            ToolCallStart(2, "t2", "g"),
            ToolCallEnd(2),
            ToolCallStart(3, "t3", "h"),
            ToolCallDelta(9, "ignored"),
            Finish(FinishReason("end_turn", Format.CLAUDE)),
            UsageReport(usage),
        ]
    )
    assert (resp.id, resp.model, resp.created) == ("id1", "m", 3)
    assert resp.parts == [
        ThinkingPart("ab", "sig"),
        TextPart("xy"),
        ToolCallPart("t1", "f", '{"a":1}'),
        ToolCallPart("t2", "g", "{}"),  # ended without arguments -> "{}"
        ToolCallPart("t3", "h", ""),  # never ended -> arguments as received
    ]
    assert resp.finish == FinishReason("end_turn", Format.CLAUDE)
    assert resp.usage is usage


def test_registered_matrix() -> None:
    # A1 matrix: 27 Register() calls at 9b72ea9ef (one per internal/translator/<to>/<from> init.go)
    assert len(REGISTERED_PAIRS) == 27
    assert (Format.CLAUDE, Format.CLAUDE) not in REGISTERED_PAIRS  # passthrough
    assert (Format.GEMINI_CLI, Format.GEMINI_CLI) not in REGISTERED_PAIRS
    assert (Format.GEMINI_CLI, Format.ANTIGRAVITY) not in REGISTERED_PAIRS
    assert (Format.GEMINI, Format.GEMINI) in REGISTERED_PAIRS
    assert (Format.OPENAI_RESPONSE, Format.CODEX) in REGISTERED_PAIRS
    assert not any(to is Format.OPENAI_RESPONSE for _, to in REGISTERED_PAIRS)  # client-only format
    assert not any(src in (Format.CODEX, Format.ANTIGRAVITY) for src, _ in REGISTERED_PAIRS)  # upstream-only
    assert TOKEN_COUNT_CLIENTS == {Format.CLAUDE, Format.GEMINI, Format.GEMINI_CLI}


def test_implemented_pairs_are_registered_and_served() -> None:
    # Every pair served natively must be one the legacy registry translates (A1 matrix), and the
    # pipeline's pair table must hold a factory for each.
    from handlers.inference.pair_table import all_pairs

    assert IMPLEMENTED_PAIRS <= REGISTERED_PAIRS
    assert IMPLEMENTED_PAIRS <= set(all_pairs())
