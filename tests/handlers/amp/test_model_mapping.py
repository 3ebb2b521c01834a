"""``ampcode.model-mappings`` as ``model_mapping.go`` applies them (sans-io)."""

from __future__ import annotations

import pytest

from handlers.amp.model_mapping import ModelMapper
from quotio_gateway.config.models import AmpModelMapping

SERVED = {"local-a", "local-b"}


def providers(model: str) -> list[str]:
    return ["p"] if model in SERVED else []


def mapper(*entries: tuple[str, str, bool]) -> ModelMapper:
    return ModelMapper.build([AmpModelMapping.model_validate({"from": f, "to": t, "regex": r})
                              for f, t, r in entries])


@pytest.mark.parametrize(("requested", "expected"), [
    ("Claude-X", "local-a"),  # exact names match case-insensitively
    ("claude-x(high)", "local-a(high)"),  # the client's suffix carries over
    ("claude-x()", "local-a"),  # an empty suffix does not
    ("gpt-4o-mini", "local-b"),  # regex, unanchored, case-insensitive
    ("fixed(low)", "local-a(8192)"),  # the target's own suffix wins
    ("to-nowhere", ""),  # a target no provider serves is no mapping
    ("other", ""),
    ("", ""),
])
def test_map(requested: str, expected: str) -> None:
    m = mapper((" claude-x ", "local-a", False), ("GPT-4", "local-b", True), ("fixed", "local-a(8192)", False),
               ("to-nowhere", "missing", False), ("", "local-a", False), ("x", " ", False), ("[", "local-a", True))
    assert m.map(requested, providers) == expected


def test_exact_names_are_tried_before_patterns() -> None:
    m = mapper(("cl.*", "local-b", True), ("claude", "local-a", False))
    assert m.map("claude", providers) == "local-a"
    assert m.map("clx", providers) == "local-b"
