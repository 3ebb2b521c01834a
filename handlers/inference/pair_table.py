"""The client -> upstream pair table: every ``pairs_*`` module's ``PAIRS`` merged into one lookup."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from handlers.translation.model import Format

from .translate import PairFactory, PairKey

PairLookup = Callable[[Format, Format], PairFactory | None]


def merge(*tables: Mapping[PairKey, PairFactory]) -> dict[PairKey, PairFactory]:
    merged: dict[PairKey, PairFactory] = {}
    for table in tables:
        for key, factory in table.items():
            if key in merged:
                raise ValueError(f"pair {key[0]} -> {key[1]} is registered twice")
            merged[key] = factory
    return merged


def lookup_in(table: Mapping[PairKey, PairFactory]) -> PairLookup:
    def lookup(client: Format, upstream: Format) -> PairFactory | None:
        return table.get((client, upstream))

    return lookup


def all_pairs() -> dict[PairKey, PairFactory]:
    # Imported here: the pair modules import this package's seam (translate.py) themselves.
    from .pairs_cli_antigravity import PAIRS as CLI_ANTIGRAVITY
    from .pairs_codex_openai import PAIRS as CODEX_OPENAI
    from .pairs_gemini_client import PAIRS as GEMINI_CLIENT

    return merge(CODEX_OPENAI, GEMINI_CLIENT, CLI_ANTIGRAVITY)


def default_pairs() -> PairLookup:
    return lookup_in(all_pairs())
