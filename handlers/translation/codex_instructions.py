"""The Codex instructions rule (legacy ``misc.CodexInstructionsForModel``) as a pure object.

With ``codex-instructions-enabled`` off (the default) every Codex request keeps the client's own
``instructions`` and nothing else happens. With it on, the gateway compares the client's
instructions with a catalogue of the official Codex CLI prompts: a client already sending one of
them is left alone ("official"); any other client gets the catalogue prompt for its model as
``instructions`` and its own text moved into the conversation (the request translators do that).

The catalogue is data, not code: prompt files named ``<family>.md-<nnn>-<hash>`` (e.g.
``gpt_5_codex_prompt.md-009-…``), read in file-name order like the legacy's embedded directory,
plus an optional opencode prompt for clients whose User-Agent contains ``ai-sdk/openai/``. The
gateway ships no prompt files; ``load_catalogue`` reads them from wherever the operator keeps them.
Without files an enabled rule still runs, with an empty prompt.

The legacy keeps the switch in a process-wide flag that config reloads flip; ``configure`` and
``current`` play that role here, so request translators need no config argument.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from handlers.translation.thinking import parse_suffix

# The first input message the legacy inserts when it replaces the client's instructions.
OVERRIDE_MARKER = "EXECUTE ACCORDING TO THE FOLLOWING INSTRUCTIONS!!!"
OPENCODE_AGENT = "ai-sdk/openai/"
OPENCODE_FILE = "opencode_codex_instructions.txt"

# Prompt families in the order the legacy tests the model name: the first family whose marker
# occurs in the model name wins; "prompt.md" is the fallback.
_FAMILY_BY_MODEL = (
    ("codex-max", "gpt-5.1-codex-max_prompt.md"),
    ("5.2-codex", "gpt-5.2-codex_prompt.md"),
    ("codex", "gpt_5_codex_prompt.md"),
    ("5.1", "gpt_5_1_prompt.md"),
    ("5.2", "gpt_5_2_prompt.md"),
)
_FALLBACK_FAMILY = "prompt.md"
_KNOWN_FAMILIES = (*(family for _, family in _FAMILY_BY_MODEL), _FALLBACK_FAMILY, "review_prompt.md")


def is_opencode(user_agent: str) -> bool:
    return OPENCODE_AGENT in user_agent.lower()


@dataclass(slots=True, frozen=True)
class CodexInstructions:
    """``enabled`` mirrors ``codex-instructions-enabled``; ``prompts`` are (file name, text) pairs."""

    enabled: bool = False
    prompts: tuple[tuple[str, str], ...] = ()
    opencode: str = ""
    _latest: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        # The newest file of each family is the one the legacy sends (later names win).
        for name, text in sorted(self.prompts):
            family = next((f for f in _KNOWN_FAMILIES if name.startswith(f)), None)
            if family is not None:
                self._latest[family] = text

    def for_model(self, model: str, client_instructions: str, user_agent: str) -> tuple[bool, str]:
        """(official, instructions): ``official`` means "leave the request as the client sent it".

        Disabled: always ``(True, "")``. Opencode clients: official when their instructions start
        with the opencode prompt, else that prompt. Others: official when their instructions start
        with any catalogue file, else the newest prompt of the model's family.
        """
        if not self.enabled:
            return True, ""
        # The legacy looks up the base model: a thinking suffix such as "(high)" is not part of it.
        model = parse_suffix(model).model
        if is_opencode(user_agent):
            if not self.opencode:
                return False, ""
            if client_instructions.startswith(self.opencode):
                return True, ""
            return False, self.opencode
        for _, text in sorted(self.prompts):
            if client_instructions.startswith(text):
                return True, ""
        family = next((f for marker, f in _FAMILY_BY_MODEL if marker in model), _FALLBACK_FAMILY)
        return False, self._latest.get(family, "")


def load_catalogue(prompts_dir: Path, *, enabled: bool = True) -> CodexInstructions:
    """Read every prompt file of ``prompts_dir`` (and ``opencode_codex_instructions.txt`` there)."""
    prompts: list[tuple[str, str]] = []
    opencode = ""
    for path in sorted(prompts_dir.iterdir()):
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        if path.name == OPENCODE_FILE:
            opencode = text
        else:
            prompts.append((path.name, text))
    return CodexInstructions(enabled=enabled, prompts=tuple(prompts), opencode=opencode)


_current = CodexInstructions()


def configure(instructions: CodexInstructions) -> None:
    """Install the rule for every later request (called at start-up and on config reload)."""
    global _current
    _current = instructions


def current() -> CodexInstructions:
    return _current
