"""The Codex instructions rule (legacy ``misc.CodexInstructionsForModel``, read from the Go source)."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.translation import codex_instructions
from handlers.translation.codex_instructions import CodexInstructions, load_catalogue

PROMPTS = (
    ("gpt-5.1-codex-max_prompt.md-001-a", "MAX one"),
    ("gpt-5.2-codex_prompt.md-001-a", "52CODEX one"),
    ("gpt_5_1_prompt.md-001-a", "51 one"),
    ("gpt_5_1_prompt.md-002-b", "51 two"),
    ("gpt_5_2_prompt.md-001-a", "52 one"),
    ("gpt_5_codex_prompt.md-001-a", "CODEX one"),
    ("gpt_5_codex_prompt.md-002-b", "CODEX two"),
    ("prompt.md-001-a", "BASE one"),
    ("prompt.md-002-b", "BASE two"),
    ("review_prompt.md-001-a", "REVIEW one"),
)


def rule(**kwargs: object) -> CodexInstructions:
    return CodexInstructions(enabled=True, prompts=PROMPTS, opencode="OPENCODE", **kwargs)  # type: ignore[arg-type]


def test_disabled_rule_always_reports_official_and_no_prompt() -> None:
    assert CodexInstructions(prompts=PROMPTS).for_model("gpt-5-codex", "anything", "ai-sdk/openai/1") == (True, "")


@pytest.mark.parametrize(
    ("model", "prompt"),
    [
        ("gpt-5.1-codex-max", "MAX one"),
        ("gpt-5.2-codex", "52CODEX one"),
        ("gpt-5-codex", "CODEX two"),
        ("gpt-5.1", "51 two"),
        ("gpt-5.2", "52 one"),
        ("gpt-5", "BASE two"),
    ],
)
def test_model_family_picks_the_newest_file_of_its_family(model: str, prompt: str) -> None:
    assert rule().for_model(model, "my own prompt", "codex_cli_rs/0.50") == (False, prompt)


def test_thinking_suffix_is_not_part_of_the_model_name() -> None:
    assert rule().for_model("gpt-5(codex)", "mine", "") == (False, "BASE two")


def test_instructions_starting_with_any_catalogue_file_are_official() -> None:
    # Even an older file or the review prompt counts, whatever the model.
    assert rule().for_model("gpt-5", "CODEX one and more", "") == (True, "")
    assert rule().for_model("gpt-5", "REVIEW one", "") == (True, "")


def test_opencode_user_agent_uses_the_opencode_prompt() -> None:
    assert rule().for_model("gpt-5-codex", "mine", "AI-SDK/OpenAI/2.0") == (False, "OPENCODE")
    assert rule().for_model("gpt-5-codex", "OPENCODE plus", "ai-sdk/openai/2.0") == (True, "")


def test_enabled_rule_without_files_gives_an_empty_prompt() -> None:
    assert CodexInstructions(enabled=True).for_model("gpt-5", "mine", "") == (False, "")
    assert CodexInstructions(enabled=True).for_model("gpt-5", "mine", "ai-sdk/openai/") == (False, "")


def test_load_catalogue_reads_prompt_files_and_the_opencode_file(tmp_path: Path) -> None:
    (tmp_path / "prompt.md-001-a").write_text("BASE one")
    (tmp_path / "prompt.md-002-b").write_text("BASE two")
    (tmp_path / "opencode_codex_instructions.txt").write_text("OC")
    (tmp_path / "sub").mkdir()
    loaded = load_catalogue(tmp_path)
    assert loaded.enabled
    assert loaded.prompts == (("prompt.md-001-a", "BASE one"), ("prompt.md-002-b", "BASE two"))
    assert loaded.opencode == "OC"
    assert loaded.for_model("gpt-5", "x", "") == (False, "BASE two")


def test_configure_installs_the_rule_for_later_requests() -> None:
    before = codex_instructions.current()
    try:
        codex_instructions.configure(rule())
        assert codex_instructions.current().for_model("gpt-5", "x", "") == (False, "BASE two")
    finally:
        codex_instructions.configure(before)
    assert codex_instructions.current() is before
