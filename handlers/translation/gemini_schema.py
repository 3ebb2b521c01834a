"""JSON-schema cleaning for Gemini-family upstreams, and Gemini function-name sanitising.

* ``clean_schema_for_antigravity``: the legacy ``CleanJSONSchemaForAntigravity`` (reference A2.14,
  A4.2 #18). Antigravity rejects most JSON-schema keywords, so the cleaner folds them into
  ``description`` hints, flattens combinators and type arrays, drops what is left, prunes
  ``required`` and gives empty object schemas a placeholder property.
* ``sanitize_function_name``: the legacy ``SanitizeFunctionName`` (A4.2 #19).

Why the cleaner works on key paths instead of recursing over the schema: the legacy finds every
occurrence of a keyword anywhere in the document (including property *names* that happen to be
keywords) and runs its phases one after another over those path lists, deepest path first. Its
output depends on that order, so the phases here collect paths the same way (pre-order, longest
path string first) and edit the document through them.

Who calls it in the legacy: the Claude -> Antigravity request translator (tool ``input_schema``)
and the Antigravity executor (over the whole payload for ``claude`` models, after renaming
``parametersJsonSchema`` to ``parameters``). The Gemini API and Gemini CLI translators do not.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from handlers.translation.sse import json_text

Path = tuple[str | int, ...]

# Constraints Antigravity refuses; their values become description hints first, then are dropped.
_CONSTRAINTS = (
    "minLength",
    "maxLength",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "pattern",
    "minItems",
    "maxItems",
    "format",
    "default",
    "examples",
)
_REMOVED = (*_CONSTRAINTS, "$schema", "$defs", "definitions", "const", "$ref", "additionalProperties", "propertyNames")
_PLACEHOLDER_REASON = "Brief explanation of why you are calling this tool"


# --- path helpers ------------------------------------------------------------------------------


def _escaped(key: str | int) -> str:
    # The legacy builds gjson paths with . * ? escaped; only the path length matters here (sorting).
    return str(key).replace(".", "\\.").replace("*", "\\*").replace("?", "\\?")


def _path_len(path: Path) -> int:
    return len(".".join(_escaped(k) for k in path))


def _find(doc: Any, field: str) -> list[Path]:
    """Every path whose last key is ``field``, in document pre-order."""
    found: list[Path] = []

    def walk(node: Any, path: Path) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                child = (*path, key)
                if key == field:
                    found.append(child)
                walk(value, child)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, (*path, index))

    walk(doc, ())
    return found


def _deepest_first(paths: list[Path]) -> list[Path]:
    return sorted(paths, key=_path_len, reverse=True)


_MISSING = object()


def _get(doc: Any, path: Path) -> Any:
    node = doc
    for key in path:
        if isinstance(node, dict) and isinstance(key, str) and key in node:
            node = node[key]
        elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
            node = node[key]
        else:
            return _MISSING
    return node


class _Doc:
    """The document being cleaned; ``root`` is replaced when a phase rewrites the top level."""

    __slots__ = ("root",)

    def __init__(self, root: Any) -> None:
        self.root = root

    def get(self, path: Path) -> Any:
        return _get(self.root, path)

    def set(self, path: Path, value: Any) -> None:
        """Set a value, creating missing objects on the way (as sjson does)."""
        if not path:
            self.root = value
            return
        node = self.root
        for key in path[:-1]:
            child = _get(node, (key,))
            if not isinstance(child, dict | list):
                if not isinstance(node, dict):
                    return
                child = {}
                node[key] = child
            node = child
        last = path[-1]
        if isinstance(node, dict):
            node[last] = value
        elif isinstance(node, list) and isinstance(last, int) and 0 <= last < len(node):
            node[last] = value

    def delete(self, path: Path) -> None:
        parent = self.get(path[:-1])
        last = path[-1]
        if isinstance(parent, dict):
            parent.pop(last, None)  # type: ignore[arg-type]
        elif isinstance(parent, list) and isinstance(last, int) and 0 <= last < len(parent):
            del parent[last]


def _text(value: Any) -> str:
    """gjson ``String()``: strings as they are, ``null``/missing empty, anything else its JSON."""
    if value is _MISSING or value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json_text(value)


def _is_property_map(path: Path) -> bool:
    # A keyword found directly under "properties" is a property NAME, not a keyword.
    return bool(path) and path[-1] == "properties"


def _hint(doc: _Doc, parent: Path, hint: str) -> None:
    existing = _text(doc.get((*parent, "description")))
    doc.set((*parent, "description"), f"{existing} ({hint})" if existing else hint)


def _hint_into(schema: Any, hint: str) -> Any:
    if not isinstance(schema, dict):
        return schema
    existing = _text(schema.get("description", _MISSING))
    schema["description"] = f"{existing} ({hint})" if existing else hint
    return schema


# --- phases ------------------------------------------------------------------------------------


def _refs_to_hints(doc: _Doc) -> None:
    for path in _deepest_first(_find(doc.root, "$ref")):
        ref = _text(doc.get(path))
        name = ref.rsplit("/", 1)[-1]
        parent = path[:-1]
        hint = f"See: {name}"
        existing = _text(doc.get((*parent, "description")))
        if existing:
            hint = f"{existing} ({hint})"
        doc.set(parent, {"type": "object", "description": hint})


def _const_to_enum(doc: _Doc) -> None:
    for path in _find(doc.root, "const"):
        value = doc.get(path)
        if value is _MISSING:
            continue
        enum_path = (*path[:-1], "enum")
        if doc.get(enum_path) is _MISSING:
            doc.set(enum_path, [copy.deepcopy(value)])


def _enum_to_strings(doc: _Doc) -> None:
    for path in _find(doc.root, "enum"):
        values = doc.get(path)
        if isinstance(values, list) and any(not isinstance(v, str) for v in values):
            doc.set(path, [_text(v) for v in values])


def _enum_hints(doc: _Doc) -> None:
    for path in _find(doc.root, "enum"):
        values = doc.get(path)
        if isinstance(values, list) and 1 < len(values) <= 10:
            _hint(doc, path[:-1], "Allowed: " + ", ".join(_text(v) for v in values))


def _additional_properties_hints(doc: _Doc) -> None:
    for path in _find(doc.root, "additionalProperties"):
        if doc.get(path) is False:
            _hint(doc, path[:-1], "No extra properties allowed")


def _constraints_to_hints(doc: _Doc) -> None:
    for key in _CONSTRAINTS:
        for path in _find(doc.root, key):
            value = doc.get(path)
            if value is _MISSING or isinstance(value, dict | list):
                continue
            parent = path[:-1]
            if _is_property_map(parent):
                continue
            _hint(doc, parent, f"{key}: {_text(value)}")


def _merge_all_of(doc: _Doc) -> None:
    for path in _deepest_first(_find(doc.root, "allOf")):
        branches = doc.get(path)
        if not isinstance(branches, list):
            continue
        parent = path[:-1]
        for branch in branches:
            if not isinstance(branch, dict):
                continue
            if isinstance(branch.get("properties"), dict):
                for name, schema in branch["properties"].items():
                    doc.set((*parent, "properties", name), copy.deepcopy(schema))
            if isinstance(branch.get("required"), list):
                current = doc.get((*parent, "required"))
                merged = [_text(v) for v in current] if isinstance(current, list) else []
                for name in branch["required"]:
                    if _text(name) not in merged:
                        merged.append(_text(name))
                # An empty Go slice marshals as null; reproduced so later phases see the same input.
                doc.set((*parent, "required"), merged or None)
        doc.delete(path)


def _branch_type(branch: Any) -> tuple[int, str]:
    """Score a combinator branch (objects beat arrays beat scalars beat null) and name its type."""
    kind = _text(branch.get("type", _MISSING)) if isinstance(branch, dict) else ""
    has = branch.__contains__ if isinstance(branch, dict) else (lambda _key: False)
    if kind == "object" or has("properties"):
        return 3, kind or "object"
    if kind == "array" or has("items"):
        return 2, kind or "array"
    if kind and kind != "null":
        return 1, kind
    return 0, kind or "null"


def _flatten_combinators(doc: _Doc) -> None:
    for key in ("anyOf", "oneOf"):
        for path in _deepest_first(_find(doc.root, key)):
            branches = doc.get(path)
            if not isinstance(branches, list) or not branches:
                continue
            parent = path[:-1]
            parent_description = _text(doc.get((*parent, "description")))
            best, best_score, kinds = 0, -1, []
            for index, branch in enumerate(branches):
                score, kind = _branch_type(branch)
                kinds.append(kind)
                if score > best_score:
                    best, best_score = index, score
            chosen = copy.deepcopy(branches[best])
            if parent_description and isinstance(chosen, dict):
                own = _text(chosen.get("description", _MISSING))
                if not own:
                    chosen["description"] = parent_description
                elif own != parent_description:
                    chosen["description"] = f"{parent_description} ({own})"
            if len(kinds) > 1:
                chosen = _hint_into(chosen, "Accepts: " + " | ".join(kinds))
            doc.set(parent, chosen)


def _flatten_type_arrays(doc: _Doc) -> None:
    nullable: dict[Path, list[str]] = {}
    for path in _deepest_first(_find(doc.root, "type")):
        kinds = doc.get(path)
        if not isinstance(kinds, list) or not kinds:
            continue
        names = [_text(k) for k in kinds]
        concrete = [n for n in names if n and n != "null"]
        doc.set(path, concrete[0] if concrete else "string")
        parent = path[:-1]
        if len(concrete) > 1:
            _hint(doc, parent, "Accepts: " + " | ".join(concrete))
        if "null" in names and len(path) >= 3 and path[-3] == "properties":
            owner = path[:-3]
            nullable.setdefault(owner, []).append(str(path[-2]))
            _hint(doc, parent, "(nullable)")
    for owner, fields in nullable.items():
        required_path = (*owner, "required")
        required = doc.get(required_path)
        if not isinstance(required, list):
            continue
        kept = [_text(r) for r in required if _text(r) not in fields]
        if kept:
            doc.set(required_path, kept)
        else:
            doc.delete(required_path)


def _remove_keywords(doc: _Doc) -> None:
    for key in _REMOVED:
        for path in _find(doc.root, key):
            if not _is_property_map(path[:-1]):
                doc.delete(path)


def _prune_required(doc: _Doc) -> None:
    for path in _find(doc.root, "required"):
        required = doc.get(path)
        properties = doc.get((*path[:-1], "properties"))
        if not isinstance(required, list) or not isinstance(properties, dict):
            continue
        valid = [_text(r) for r in required if _text(r) in properties]
        if len(valid) != len(required):
            if valid:
                doc.set(path, valid)
            else:
                doc.delete(path)


def _placeholders(doc: _Doc) -> None:
    for path in _deepest_first(_find(doc.root, "type")):
        if doc.get(path) != "object":
            continue
        parent = path[:-1]
        properties = doc.get((*parent, "properties"))
        required = doc.get((*parent, "required"))
        if properties is _MISSING or (isinstance(properties, dict) and not properties):
            doc.set((*parent, "properties", "reason", "type"), "string")
            doc.set((*parent, "properties", "reason", "description"), _PLACEHOLDER_REASON)
            doc.set((*parent, "required"), ["reason"])
            continue
        has_required = isinstance(required, list) and bool(required)
        if isinstance(properties, dict) and not has_required and parent:
            # Nested objects with optional-only properties get a boolean "_" that is required
            # (Claude's VALIDATED mode wants at least one required property); the top level does not.
            if "_" not in properties:
                doc.set((*parent, "properties", "_", "type"), "boolean")
            doc.set((*parent, "required"), ["_"])


def clean_schema_for_antigravity(schema: Any) -> Any:
    """Return a cleaned copy of ``schema`` (any JSON value; the input is not modified)."""
    doc = _Doc(copy.deepcopy(schema))
    # 1. keywords that carry meaning become hints
    _refs_to_hints(doc)
    _const_to_enum(doc)
    _enum_to_strings(doc)
    _enum_hints(doc)
    _additional_properties_hints(doc)
    _constraints_to_hints(doc)
    # 2. structure is flattened
    _merge_all_of(doc)
    _flatten_combinators(doc)
    _flatten_type_arrays(doc)
    # 3. leftovers are removed
    _remove_keywords(doc)
    _prune_required(doc)
    # 4. empty objects get a placeholder property
    _placeholders(doc)
    return doc.root


# --- function names (A4.2 #19) -------------------------------------------------------------------

_INVALID_NAME_CHAR = re.compile(r"[^a-zA-Z0-9_.:-]")
_NAME_LIMIT = 64


def sanitize_function_name(name: str) -> str:
    """Make ``name`` a valid Gemini function name: ``[A-Za-z0-9_.:-]``, leading letter or ``_``, ≤ 64."""
    if not name:
        return ""
    cleaned = _INVALID_NAME_CHAR.sub("_", name)
    first = cleaned[0]
    if not (first.isascii() and first.isalpha()) and first != "_":
        # Truncate before prepending so the result still fits the limit.
        cleaned = "_" + cleaned[: _NAME_LIMIT - 1]
    return cleaned[:_NAME_LIMIT]
