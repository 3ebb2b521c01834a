"""MigrateOAuthModelAlias (internal/config/oauth_model_alias_migration.go), run before every load.

A config without ``oauth-model-alias`` gets rewritten on disk by the legacy binary: an old
``oauth-model-mappings`` section is renamed (antigravity entries move to the real upstream names
and the missing defaults are added), otherwise the default antigravity aliases are appended.
Failures only warn in Go, so every problem here means "no migration".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from .legacy_yamlsave import dump_document, load_document

# (upstream name, alias) pairs the binary seeds for the antigravity channel.
DEFAULT_ANTIGRAVITY = (
    ("rev19-uic3-1p", "gemini-2.5-computer-use-preview-10-2025"),
    ("gemini-3-pro-image", "gemini-3-pro-image-preview"),
    ("gemini-3-pro-high", "gemini-3-pro-preview"),
    ("gemini-3-flash", "gemini-3-flash-preview"),
    ("claude-sonnet-4-5", "gemini-claude-sonnet-4-5"),
    ("claude-sonnet-4-5-thinking", "gemini-claude-sonnet-4-5-thinking"),
    ("claude-opus-4-5-thinking", "gemini-claude-opus-4-5-thinking"),
)
# Old built-in antigravity aliases that were really model names; the migration swaps them.
_OLD_TO_UPSTREAM = {alias: name for name, alias in DEFAULT_ANTIGRAVITY}

Entry = tuple[str, str, bool]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _old_entries(section: CommentedMap) -> dict[str, list[Entry]]:
    out: dict[str, list[Entry]] = {}
    for raw_channel, items in section.items():
        channel = _text(raw_channel).strip().lower()
        if not channel or not isinstance(items, list):
            continue
        entries: list[Entry] = []
        for item in items:
            if not isinstance(item, dict):
                continue
            fields = {_text(k).strip().lower(): v for k, v in item.items()}
            name, alias = _text(fields.get("name")).strip(), _text(fields.get("alias")).strip()
            fork = _text(fields.get("fork")).strip().lower() == "true"
            if name and alias:
                entries.append((name, alias, fork))
        if entries:
            out[channel] = entries
    return out


def _converted(old: dict[str, list[Entry]]) -> dict[str, list[Entry]]:
    out: dict[str, list[Entry]] = {}
    for channel, entries in old.items():
        if channel == "antigravity":
            entries = [(_OLD_TO_UPSTREAM.get(name, name), alias, fork) for name, alias, fork in entries]
            have = {name for name, _, _ in entries}
            entries += [(name, alias, False) for name, alias in DEFAULT_ANTIGRAVITY if name not in have]
        out[channel] = entries
    return out


def _section(aliases: dict[str, list[Entry]]) -> CommentedMap:
    node = CommentedMap()
    for channel, entries in aliases.items():
        seq = CommentedSeq()
        for name, alias, fork in entries:
            item = CommentedMap([("name", name), ("alias", alias)])
            if fork:
                item["fork"] = True
            seq.append(item)
        node[channel] = seq
    return node


def migrate_oauth_model_alias(path: Path) -> bool:
    """Rewrite ``path`` when it has no ``oauth-model-alias`` yet; True when the file changed."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return False
    if not text:
        return False
    try:
        doc = load_document(text)
    except YAMLError:
        return False
    if not isinstance(doc, CommentedMap) or "oauth-model-alias" in doc:
        return False
    if "oauth-model-mappings" in doc:
        old = doc["oauth-model-mappings"]
        if not isinstance(old, CommentedMap):
            return False
        aliases = _old_entries(old)
        if not aliases:
            del doc["oauth-model-mappings"]
        else:
            # Same place in the document, new key name (Go renames the key node in place).
            keys = list(doc)
            position = keys.index("oauth-model-mappings")
            del doc["oauth-model-mappings"]
            doc.insert(position, "oauth-model-alias", _section(_converted(aliases)))
    else:
        doc["oauth-model-alias"] = _section({"antigravity": [(n, a, False) for n, a in DEFAULT_ANTIGRAVITY]})
    try:
        path.write_text(dump_document(doc), encoding="utf-8")
    except OSError:
        return False
    return True
