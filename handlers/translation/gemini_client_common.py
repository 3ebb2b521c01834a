"""Small helpers shared by the Gemini-client translators (``gemini_client_*.py``).

The legacy Gemini-client translators read the client body with gjson accessors, whose lenient
conversions (``Int()`` truncates floats and parses strings, ``String()`` gives the raw JSON of
non-strings) decide what reaches the upstream. These readers reproduce those conversions so each
translator can stay a direct reading of its Go file.
"""

from __future__ import annotations

import secrets
import string
from datetime import UTC, datetime
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
    """``time.Unix(s, 0).Format(RFC3339Nano)``, written in UTC (the legacy uses the host zone)."""
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
