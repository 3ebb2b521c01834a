"""Small helpers shared by the Gemini-client translators (``gemini_client_*.py``).

The legacy Gemini-client translators read the client body with gjson accessors, whose lenient
conversions (``Int()`` truncates floats and parses strings, ``String()`` gives the raw JSON of
non-strings) decide what reaches the upstream. These readers reproduce those conversions so each
translator can stay a direct reading of its Go file.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

from handlers.translation.gemini_request import SKIP_SIGNATURE, safety_settings
from handlers.translation.gjson_values import array_of, float_of
from handlers.translation.openai_chat_request import go_number

_ID_ALPHABET = string.ascii_letters + string.digits


def new_call_id() -> str:
    """``call_`` + 24 random letters/digits: the id the Gemini->OpenAI/Codex requests mint."""
    return "call_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))


def sampling_number(value: Any) -> int | float:
    """A ``Float()`` value as sjson writes it back (integral floats without ``.0``)."""
    return go_number(float_of(value))


def rfc3339(unix: int) -> str:
    """``time.Unix(s, 0).Format(RFC3339Nano)``, written in UTC (the legacy uses the host zone).

    Worked out here rather than by ``datetime``, which refuses what an upstream sending
    nanoseconds gives and writes years before 1000 without Go's four digits."""
    days, seconds = divmod(unix, 86400)
    # Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's civil_from_days).
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (month <= 2)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    stamp = f"{year:04d}" if year >= 0 else f"-{-year:04d}"
    return f"{stamp}-{month:02d}-{day:02d}T{hours:02d}:{minutes:02d}:{seconds:02d}Z"


def attach_safety_settings(body: dict[str, Any]) -> None:
    """``common.AttachDefaultSafetySettings``: the five defaults unless the key exists at all."""
    if "safetySettings" not in body:
        body["safetySettings"] = safety_settings()


def rename_key(obj: dict[str, Any], old: str, new: str) -> None:
    """``util.RenameKey``: the value moves to ``new`` (in place when ``new`` exists, else appended
    last, as sjson appends), then ``old`` is deleted."""
    if old not in obj:
        return
    value = obj[old]
    if new in obj:
        obj[new] = value
        del obj[old]
    else:
        del obj[old]
        obj[new] = value


def skip_model_signatures(contents: Any) -> None:
    """Model parts carrying a call or a thought signature get the validator-skipping sentinel.

    Thought signatures minted by another backend would fail Google's validation, so every Gemini
    client request headed to a Gemini-family upstream replaces them (gemini/gemini, gemini-cli/gemini,
    gemini/gemini-cli request files).
    """
    if not isinstance(contents, list):
        return
    for content in contents:
        if not isinstance(content, dict) or content.get("role") != "model":
            continue
        for part in array_of(content.get("parts")):
            if isinstance(part, dict) and ("functionCall" in part or "thoughtSignature" in part):
                part["thoughtSignature"] = SKIP_SIGNATURE


def normalise_roles(contents: Any) -> None:
    """Missing or unknown roles become ``user`` first, then alternate after the previous role."""
    if not isinstance(contents, list):
        return
    previous = ""
    for content in contents:
        if not isinstance(content, dict):
            continue  # not a content object: nothing to give a role to
        role = content.get("role")
        if role not in ("user", "model"):
            role = "model" if previous == "user" else "user"
            content["role"] = role
        previous = role


def rename_parameters(tools: Any, key: str) -> None:
    """``tools[i].<key>[j].parameters`` -> ``parametersJsonSchema`` (the Gemini API's JSON-schema slot)."""
    if not isinstance(tools, list):
        return
    for tool in tools:
        declarations = tool.get(key) if isinstance(tool, dict) else None
        if isinstance(declarations, list):
            for declaration in declarations:
                if isinstance(declaration, dict):
                    rename_key(declaration, "parameters", "parametersJsonSchema")
