"""Command line of the legacy binary (cmd/server/main.go), parsed with Go ``flag`` package rules:
single or double dash, ``-name value`` / ``-name=value``, bare booleans, parsing stops at the first
non-flag argument, unknown flags exit 2 with ``flag provided but not defined``."""

from __future__ import annotations

import sys
from dataclasses import dataclass

BOOL_FLAGS = {
    "login": "Login Google Account",
    "codex-login": "Login to Codex using OAuth",
    "claude-login": "Login to Claude using OAuth",
    "qwen-login": "Login to Qwen using OAuth",
    "iflow-login": "Login to iFlow using OAuth",
    "iflow-cookie": "Login to iFlow using Cookie",
    "no-browser": "Don't open browser automatically for OAuth",
    "antigravity-login": "Login to Antigravity using OAuth",
}
VALUE_FLAGS = {
    "oauth-callback-port": ("int", "Override OAuth callback port (defaults to provider-specific port)"),
    "project_id": ("string", "Project ID (Gemini only, not required)"),
    "config": ("string", "Configure File Path"),
    "vertex-import": ("string", "Import Vertex service account key JSON file"),
    "password": ("string", ""),
}
# Checked in this order by main.go; the first one set wins over serving.
MODE_ORDER = (
    "vertex-import",
    "login",
    "antigravity-login",
    "codex-login",
    "claude-login",
    "qwen-login",
    "iflow-login",
    "iflow-cookie",
)
_GO_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_GO_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


@dataclass
class Flags:
    config: str = ""
    password: str = ""
    login_mode: str = ""


def _usage() -> str:
    lines = [f"Usage of {sys.argv[0]}"]
    for name in sorted({*BOOL_FLAGS, *VALUE_FLAGS}):
        if name == "password":
            continue
        if name in BOOL_FLAGS:
            lines.append(f"  -{name}\n    \t{BOOL_FLAGS[name]}")
        else:
            kind, text = VALUE_FLAGS[name]
            lines.append(f"  -{name} {kind}\n    \t{text}")
    return "\n".join(lines)


def _fail(message: str) -> None:
    print(message, file=sys.stderr)
    print(_usage(), file=sys.stderr)
    raise SystemExit(2)


def parse_flags(argv: list[str]) -> Flags:
    values: dict[str, object] = {}
    index = 0
    while index < len(argv):
        arg = argv[index]
        if len(arg) < 2 or not arg.startswith("-"):
            break
        index += 1
        body = arg[2:] if arg.startswith("--") else arg[1:]
        if arg == "--":
            break
        if not body or body.startswith("-") or body.startswith("="):
            _fail(f"bad flag syntax: {arg}")
        name, has_value, value = body.partition("=")
        if name in ("h", "help") and name not in BOOL_FLAGS and name not in VALUE_FLAGS:
            print(_usage(), file=sys.stderr)
            raise SystemExit(0)
        if name in BOOL_FLAGS:
            if not has_value:
                values[name] = True
            elif value in _GO_TRUE | _GO_FALSE:
                values[name] = value in _GO_TRUE
            else:
                _fail(f'invalid boolean value "{value}" for -{name}: parse error')
            continue
        if name not in VALUE_FLAGS:
            _fail(f"flag provided but not defined: -{name}")
        if not has_value:
            if index >= len(argv):
                _fail(f"flag needs an argument: -{name}")
            value = argv[index]
            index += 1
        if VALUE_FLAGS[name][0] == "int":
            try:
                int(value, 0)
            except ValueError:
                _fail(f'invalid value "{value}" for flag -{name}: parse error')
        values[name] = value
    mode = next((m for m in MODE_ORDER if values.get(m)), "")
    return Flags(config=str(values.get("config", "")), password=str(values.get("password", "")), login_mode=mode)
