"""``payload:`` rules from config.yaml applied to an outgoing upstream request body.

Semantics of CLIProxyAPI's ``applyPayloadConfigWithRoot`` (``internal/runtime/executor/
payload_helpers.go``), on a JSON object held as a Python dict instead of bytes:

* ``default`` / ``default-raw``: set a path only if the *original* request (the client body as
  translated to the upstream format) lacks it; across all matching rules the first write wins.
* ``override`` / ``override-raw``: always set; later rules overwrite earlier ones.
* ``-raw`` values are JSON text (a non-string value is used as is).
* A rule matches when one of its ``models`` entries has a name glob matching the model (or one of
  its ``oauth-model-alias`` aliases on the channel named like the protocol) and its protocol is
  empty or equal (case-insensitive) to the executor's.
* ``root`` prefixes every path (``request`` for the gemini-cli and antigravity envelopes).

Paths use the gjson/sjson dot syntax subset that config files use: ``.`` separates keys, ``\\``
escapes the next character, a number indexes an array (past the end pads with null), ``-1``
appends, and a leading ``:`` forces an object key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from quotio_gateway.config.models import Config, PayloadRule
from quotio_gateway.gostrings import go_trim

_MISSING = object()


def match_model_pattern(pattern: str, model: str) -> bool:
    """``matchModelPattern``: glob where ``*`` matches any run, backtracking to the last star."""
    pattern, model = go_trim(pattern), go_trim(model)
    if not pattern:
        return False
    if pattern == "*":
        return True
    pi = si = 0
    star = -1
    mark = 0
    while si < len(model):
        if pi < len(pattern) and pattern[pi] == model[si]:
            pi += 1
            si += 1
        elif pi < len(pattern) and pattern[pi] == "*":
            star, mark = pi, si
            pi += 1
        elif star != -1:
            pi = star + 1
            mark += 1
            si = mark
        else:
            return False
    while pi < len(pattern) and pattern[pi] == "*":
        pi += 1
    return pi == len(pattern)


def model_candidates(cfg: Config, model: str, protocol: str) -> list[str]:
    """The model plus its ``oauth-model-alias`` aliases on the channel named like the protocol."""
    model = go_trim(model)
    if not model:
        return []
    out = [model]
    channel = go_trim(protocol).lower()
    seen = {model.lower()}
    for entry in cfg.oauth_model_alias.get(channel, ()) if channel else ():
        if go_trim(entry.name).lower() != model.lower():
            continue
        alias = go_trim(entry.alias)
        if alias and alias.lower() not in seen:
            seen.add(alias.lower())
            out.append(alias)
    return out


def rule_matches(rule: PayloadRule, protocol: str, candidates: list[str]) -> bool:
    for entry in rule.models:
        name = go_trim(entry.name)
        if not name:
            continue
        wanted = go_trim(entry.protocol)
        if wanted and protocol and wanted.lower() != protocol.lower():
            continue
        if any(match_model_pattern(name, candidate) for candidate in candidates):
            return True
    return False


# --- paths ----------------------------------------------------------------------------------


def build_path(root: str, path: str) -> str:
    root, path = go_trim(root), go_trim(path)
    if not root:
        return path
    if not path:
        return root
    return f"{root}.{path.removeprefix('.')}"


def split_path(path: str) -> list[tuple[str, bool]]:
    """Path components as ``(text, forced_object_key)``."""
    parts: list[tuple[str, bool]] = []
    current: list[str] = []
    forced = False
    escaped = False
    for ch in path:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ".":
            parts.append(("".join(current), forced))
            current, forced = [], False
        elif ch == ":" and not current and not forced:
            forced = True
        else:
            current.append(ch)
    parts.append(("".join(current), forced))
    return parts


def _index(part: str, forced: bool) -> int | None:
    if forced:
        return None
    if part == "-1":
        return -1
    return int(part) if part.isdigit() else None


def path_exists(document: Any, path: str) -> bool:
    node = document
    for part, forced in split_path(path):
        if isinstance(node, Mapping):
            if part not in node:
                return False
            node = node[part]
        elif isinstance(node, list):
            index = _index(part, forced)
            if index is None or index < 0 or index >= len(node):
                return False
            node = node[index]
        else:
            return False
    return True


def _container_for(part: str, forced: bool) -> dict[str, Any] | list[Any]:
    return [] if _index(part, forced) is not None else {}


def set_path(document: dict[str, Any], path: str, value: Any) -> bool:
    """Set ``value`` at ``path``, creating objects/arrays on the way. False if it cannot."""
    parts = split_path(path)
    node: Any = document
    for depth, (part, forced) in enumerate(parts):
        last = depth == len(parts) - 1
        following = parts[depth + 1] if not last else ("", False)
        if isinstance(node, dict):
            if last:
                node[part] = value
                return True
            child = node.get(part, _MISSING)
            if not isinstance(child, dict | list):
                child = node[part] = _container_for(*following)
            node = child
            continue
        if isinstance(node, list):
            index = _index(part, forced)
            if index is None:
                return False
            if index == -1:
                index = len(node)
            while len(node) <= index:
                node.append(None)
            if last:
                node[index] = value
                return True
            child = node[index]
            if not isinstance(child, dict | list):
                child = node[index] = _container_for(*following)
            node = child
            continue
        return False
    return False


def _rule_value(value: Any, raw: bool) -> tuple[bool, Any]:
    """``(usable, the value to set)``: a fresh copy, never the config's own object."""
    if not raw:
        return True, _encodable(value, from_yaml=True)
    if value is None:
        return False, None
    if isinstance(value, str):
        try:
            return True, _encodable(json.loads(value))
        except ValueError:
            # Go would splice the broken text in and send invalid JSON; a dict cannot hold
            # that, so such a rule is skipped (and the upstream never sees a corrupt body).
            return False, None
    return True, _encodable(value)


_INT_MIN, _UINT_MAX = -(2**63), 2**64 - 1


def _encodable(value: Any, *, from_yaml: bool = False) -> Any:
    """A copy of a rule value (new dicts and lists) as it goes into the body. Integers no 64-bit
    type holds become floats, as yaml.v3 decodes them (and the JSON encoder could not write them:
    every matching request would fail). A YAML float with no fraction is written as Go's sjson
    writes a float64, without one (``1e3`` -> ``1000``, not ``1000.0``, which an integer field
    may refuse); raw JSON text keeps its own form."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value) if not _INT_MIN <= value <= _UINT_MAX else value
    if isinstance(value, float):
        return int(value) if from_yaml and value.is_integer() and abs(value) < 2**63 else value
    if isinstance(value, dict):
        return {k: _encodable(v, from_yaml=from_yaml) for k, v in value.items()}
    if isinstance(value, list):
        return [_encodable(v, from_yaml=from_yaml) for v in value]
    return value


# --- applying -------------------------------------------------------------------------------


def apply_payload_rules(cfg: Config, model: str, protocol: str, payload: dict[str, Any], *,
                        original: Mapping[str, Any] | None = None, root: str = "") -> dict[str, Any]:
    """Apply the config's payload rules to ``payload`` in place and return it."""
    rules = cfg.payload
    if not (rules.default or rules.default_raw or rules.override or rules.override_raw):
        return payload
    candidates = model_candidates(cfg, model, protocol)
    if not candidates:
        return payload
    source: Any = original if original else payload
    applied: set[str] = set()

    def defaults(section: list[PayloadRule], raw: bool) -> None:
        for rule in section:
            if not rule_matches(rule, protocol, candidates):
                continue
            for path, value in rule.params.items():
                full = build_path(root, path)
                if not full or full in applied or path_exists(source, full):
                    continue
                ok, resolved = _rule_value(value, raw)
                if ok and set_path(payload, full, resolved):
                    applied.add(full)

    def overrides(section: list[PayloadRule], raw: bool) -> None:
        for rule in section:
            if not rule_matches(rule, protocol, candidates):
                continue
            for path, value in rule.params.items():
                full = build_path(root, path)
                if not full:
                    continue
                ok, resolved = _rule_value(value, raw)
                if ok:
                    set_path(payload, full, resolved)

    defaults(rules.default, raw=False)
    defaults(rules.default_raw, raw=True)
    overrides(rules.override, raw=False)
    overrides(rules.override_raw, raw=True)
    return payload
