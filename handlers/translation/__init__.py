"""Sans-io protocol translation between the client and upstream formats of CLIProxyAPI.

One parser and one renderer per format around the typed model in ``model.py``; see README.md in
this package for what is implemented and what remains. Nothing here performs I/O.
"""

from __future__ import annotations

from handlers.translation.model import Format

# Every client (from) -> upstream (to) pair the legacy registry translates: 27 Register() calls
# at 9b72ea9ef (the reference prose says 29; its own A1 table and the init.go files list 27). Pairs
# absent here are passed through unchanged by the legacy server (e.g. claude -> claude).
REGISTERED_PAIRS: frozenset[tuple[Format, Format]] = frozenset(
    {
        *((Format.OPENAI, to) for to in Format if to is not Format.OPENAI_RESPONSE),
        *((Format.OPENAI_RESPONSE, to) for to in Format if to is not Format.OPENAI_RESPONSE),
        *(
            (Format.CLAUDE, to)
            for to in (Format.CODEX, Format.GEMINI, Format.GEMINI_CLI, Format.OPENAI, Format.ANTIGRAVITY)
        ),
        *((Format.GEMINI, to) for to in Format if to is not Format.OPENAI_RESPONSE),
        *((Format.GEMINI_CLI, to) for to in (Format.CLAUDE, Format.CODEX, Format.GEMINI, Format.OPENAI)),
    }
)

# Pairs translated end to end here: request rendering plus stream and non-stream answers. The
# README's "Done" table says which functions compose each one; every other registered pair still
# needs its translators before the gateway may serve it natively.
IMPLEMENTED_PAIRS: frozenset[tuple[Format, Format]] = frozenset(
    {
        (Format.OPENAI, Format.CLAUDE),  # A2.1 / A2.2
        (Format.OPENAI, Format.GEMINI),  # A2.3 / A2.4
        (Format.OPENAI, Format.CODEX),  # A2.10 / A2.11
        (Format.CLAUDE, Format.OPENAI),  # A2.15 / A2.12
        (Format.CLAUDE, Format.GEMINI),  # A2.5 / A2.6
        (Format.GEMINI, Format.CLAUDE),  # A2.7 / claude->gemini response
        (Format.GEMINI, Format.OPENAI),  # openai/gemini (gemini_client_openai)
        (Format.GEMINI, Format.CODEX),  # codex/gemini (gemini_client_codex)
        (Format.GEMINI, Format.GEMINI),  # gemini/gemini fixups + passthrough (gemini_client_gemini)
        (Format.GEMINI, Format.GEMINI_CLI),  # gemini-cli/gemini envelope (gemini_client_gemini)
        (Format.GEMINI_CLI, Format.GEMINI),  # gemini/gemini-cli envelope (gemini_client_gemini)
        (Format.OPENAI_RESPONSE, Format.CLAUDE),  # claude/openai/responses / A3.2
        (Format.OPENAI_RESPONSE, Format.GEMINI),  # gemini/openai/responses / A3.2
        (Format.OPENAI, Format.OPENAI),  # openai/openai near passthrough (openai_passthrough)
        (Format.CLAUDE, Format.CODEX),  # codex/claude (codex_claude)
        (Format.OPENAI_RESPONSE, Format.CODEX),  # codex/openai/responses passthrough (codex_responses)
        (Format.OPENAI_RESPONSE, Format.OPENAI),  # openai/openai/responses (responses_openai)
        (Format.OPENAI, Format.GEMINI_CLI),  # gemini-cli/openai (gemini_cli_response)
        (Format.CLAUDE, Format.GEMINI_CLI),  # gemini-cli/claude (gemini_cli_response)
        (Format.OPENAI_RESPONSE, Format.GEMINI_CLI),  # gemini-cli/openai/responses (gemini_cli_request)
        (Format.OPENAI, Format.ANTIGRAVITY),  # antigravity/openai (antigravity_request)
        (Format.CLAUDE, Format.ANTIGRAVITY),  # antigravity/claude, signature cache (antigravity_*)
        (Format.OPENAI_RESPONSE, Format.ANTIGRAVITY),  # antigravity/openai/responses
        (Format.GEMINI, Format.ANTIGRAVITY),  # antigravity/gemini (antigravity_request)
        (Format.GEMINI_CLI, Format.CLAUDE),  # claude/gemini-cli: envelope around claude/gemini
        (Format.GEMINI_CLI, Format.CODEX),  # codex/gemini-cli: envelope around codex/gemini
        (Format.GEMINI_CLI, Format.OPENAI),  # openai/gemini-cli: envelope around openai/gemini
    }
)

# Client formats whose count_tokens answer the registry translates (reference A1).
TOKEN_COUNT_CLIENTS: frozenset[Format] = frozenset({Format.CLAUDE, Format.GEMINI, Format.GEMINI_CLI})

__all__ = ["IMPLEMENTED_PAIRS", "REGISTERED_PAIRS", "TOKEN_COUNT_CLIENTS", "Format"]
