"""config.yaml write-back the way the legacy binary does it (SaveConfigPreserveComments and
SaveConfigPreserveCommentsUpdateNestedScalar in internal/config/config.go), on ruamel.yaml.

The original document is loaded with comments, the in-memory config is rendered as Go's yaml.v3
would marshal it, and the two trees are merged: existing keys are always updated in place (keeping
their comments and scalar quoting), new keys are appended only when non-zero, list items are
matched by identity (name / api-key / ...) and items of object lists lose keys the struct no longer
renders.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
    SingleQuotedScalarString,
)
from ruamel.yaml.tokens import CommentToken

from .legacy_comments import rehome_head_comments
from .legacy_schema import CONFIG, Node, to_yaml_node

_IDENTITY_KEYS = ("id", "name", "alias", "api-key", "api_key", "apikey", "key", "provider", "model")
# Plain strings yaml.v3 would resolve to another type; Go double-quotes these when writing.
_NON_STR_PLAIN = re.compile(
    r"""^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE
    |y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF
    |[-+]?(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+|0o?[0-7_]+|0b[01_]+
    |[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)
    |[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?
    |\d{4}-\d\d?-\d\d?(?:(?:[Tt]|[ \t]+)\d\d?:\d\d:\d\d(?:\.\d*)?(?:[ \t]*(?:Z|[-+]\d\d?(?::\d\d)?))?)?)$""",
    re.X,
)


def new_yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 1 << 20
    return yaml


def load_document(data: str | bytes) -> Any:
    return new_yaml().load(data)


def _tighten_line_comments(value: Any) -> None:
    """yaml.v3 writes an end-of-line comment one space after the value, whatever the file had."""
    if not isinstance(value, (CommentedMap, CommentedSeq)):
        return
    eol_slot = 2 if isinstance(value, CommentedMap) else 0
    for slots in value.ca.items.values():
        token = slots[eol_slot] if len(slots) > eol_slot else None
        if isinstance(token, CommentToken) and token.value.startswith("#"):
            token.column = 0
    for child in value.values() if isinstance(value, CommentedMap) else value:
        _tighten_line_comments(child)


def _dump(doc: Any) -> str:
    _tighten_line_comments(doc)
    buf = io.StringIO()
    new_yaml().dump(doc, buf)
    return normalize_comment_indentation(_drop_blank_lines(buf.getvalue()))


def dump_document(doc: Any) -> str:
    """A whole document rendered as the binary writes files: block style, no blank lines."""
    return _dump(doc)


_BLOCK_SCALAR_START = re.compile(r"(?:^|[:\-]\s)[|>][-+0-9]*\s*(?:#.*)?$")


def _drop_blank_lines(text: str) -> str:
    """yaml.v3 does not keep blank lines between nodes; keep them only inside block scalars."""
    out: list[str] = []
    block_indent: int | None = None
    for line in text.split("\n"):
        stripped = line.strip()
        indent = len(line) - len(line.lstrip(" "))
        if block_indent is not None and stripped and indent <= block_indent:
            block_indent = None
        if block_indent is None and not stripped:
            continue
        out.append(line)
        if block_indent is None and _BLOCK_SCALAR_START.search(line.rstrip()):
            block_indent = indent
    return "\n".join(out) + "\n"


def normalize_comment_indentation(text: str) -> str:
    """Left-align comment-only lines, as NormalizeCommentIndentation does."""
    return "\n".join(line.lstrip(" \t") if line.lstrip(" \t").startswith("#") else line for line in text.split("\n"))


def _quoted_if_needed(value: str) -> str:
    if value == "" or _NON_STR_PLAIN.match(value):
        return DoubleQuotedScalarString(value)
    if "\n" in value:
        return LiteralScalarString(value)
    return value


def _styled_scalar(old: Any, tag: str, value: Any) -> Any:
    """Take the new scalar's value but keep the quoting style the file used for the old one."""
    if tag != "!!str":
        return value
    for style in (DoubleQuotedScalarString, SingleQuotedScalarString, LiteralScalarString, FoldedScalarString):
        if isinstance(old, style):
            return style(value)
    return _quoted_if_needed(value)


def node_to_ruamel(node: Node) -> Any:
    kind = node[0]
    if kind == "map":
        out = CommentedMap()
        for key, child in node[1]:
            out[key] = node_to_ruamel(child)
        return out
    if kind == "seq":
        return CommentedSeq(node_to_ruamel(child) for child in node[1])
    _, tag, value = node
    return _quoted_if_needed(value) if tag == "!!str" else value


def is_zero_node(node: Node | None) -> bool:
    if node is None:
        return True
    if node[0] == "scalar":
        _, tag, value = node
        if tag == "!!null":
            return True
        if tag == "!!bool":
            return value is False
        if tag in ("!!int", "!!float"):
            return value == 0
        return value == ""
    if node[0] == "seq":
        return all(is_zero_node(child) for child in node[1])
    return all(is_zero_node(child) for _, child in node[1])


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value).strip()


def _node_identity(node: Node) -> str:
    if node[0] != "map":
        return ""
    scalars = [(str(k).strip(), _text(v[2])) for k, v in node[1] if v[0] == "scalar"]
    for wanted in _IDENTITY_KEYS:
        for key, val in scalars:
            if key.lower() == wanted and val:
                return f"{wanted}={val}"
    for key, val in scalars:
        if val:
            return f"{key.lower()}={val}"
    return ""


def _ruamel_identity(value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    scalars = [(str(k).strip(), _text(v)) for k, v in value.items() if not isinstance(v, (dict, list))]
    for wanted in _IDENTITY_KEYS:
        for key, val in scalars:
            if key.lower() == wanted and val:
                return f"{wanted}={val}"
    for key, val in scalars:
        if val:
            return f"{key.lower()}={val}"
    return ""


def _structurally_equal(value: Any, node: Node) -> bool:
    if node[0] == "map":
        if not isinstance(value, dict) or len(value) != len(node[1]):
            return False
        return all(
            str(k).strip() == key and _structurally_equal(value[k], child)
            for k, (key, child) in zip(value, node[1], strict=True)
        )
    if node[0] == "seq":
        if not isinstance(value, list) or len(value) != len(node[1]):
            return False
        return all(_structurally_equal(v, child) for v, child in zip(value, node[1], strict=True))
    return not isinstance(value, (dict, list)) and _text(value) == _text(node[2])


def _match_index(original: list[Any], used: list[bool], target: Node) -> int:
    if target[0] == "map":
        ident = _node_identity(target)
        if ident:
            for i, item in enumerate(original):
                if not used[i] and isinstance(item, dict) and _ruamel_identity(item) == ident:
                    return i
    elif target[0] == "scalar":
        wanted = _text(target[2])
        if wanted:
            for i, item in enumerate(original):
                if not used[i] and not isinstance(item, (dict, list)) and item is not None and _text(item) == wanted:
                    return i
    for i, item in enumerate(original):
        if not used[i] and item is not None and _structurally_equal(item, target):
            return i
    return -1


def merge_mapping(dst: CommentedMap, src: Node) -> None:
    for key, child in src[1]:
        if key in dst:
            dst[key] = merge_value(dst[key], child)
        elif not is_zero_node(child):
            dst[key] = node_to_ruamel(child)


def _prune_missing_keys(dst: CommentedMap, src: Node) -> None:
    keep = {key.strip() for key, _ in src[1] if key.strip()}
    for key in [k for k in dst if str(k).strip() not in keep]:
        del dst[key]


def _merge_sequence(dst: Any, src: Node) -> Any:
    if dst is None and not src[1]:
        return None  # an explicit null stays null when the list is empty
    if not isinstance(dst, CommentedSeq):
        dst = CommentedSeq()
    if len(dst) == 0:
        dst.extend(node_to_ruamel(child) for child in src[1])
        return dst
    original = list(dst)
    used = [False] * len(original)
    comments = dict(dst.ca.items)
    ordered: list[Any] = []
    moved: dict[int, Any] = {}
    for i, child in enumerate(src[1]):
        idx = _match_index(original, used, child)
        if idx < 0:
            ordered.append(node_to_ruamel(child))
            continue
        used[idx] = True
        item = merge_value(original[idx], child)
        if isinstance(item, CommentedMap) and child[0] == "map":
            _prune_missing_keys(item, child)
        ordered.append(item)
        if idx in comments:
            moved[i] = comments[idx]
    dst[:] = ordered
    dst.ca.items.clear()
    dst.ca.items.update(moved)
    return dst


def merge_value(dst: Any, src: Node) -> Any:
    if src[0] == "map":
        if not isinstance(dst, CommentedMap):
            return node_to_ruamel(src)
        merge_mapping(dst, src)
        return dst
    if src[0] == "seq":
        return _merge_sequence(dst, src)
    return _styled_scalar(dst, src[1], src[2])


def normalize_collection_styles(value: Any) -> None:
    """Block style everywhere; only empty lists stay in flow style (``[]``)."""
    if isinstance(value, CommentedMap):
        value.fa.set_block_style()
        for child in value.values():
            normalize_collection_styles(child)
    elif isinstance(value, CommentedSeq):
        if len(value) == 0:
            value.fa.set_flow_style()
        else:
            value.fa.set_block_style()
        for child in value:
            normalize_collection_styles(child)


def _remove_legacy_sections(root: CommentedMap) -> None:
    for key in (
        "auth",
        "amp-upstream-url",
        "amp-upstream-api-key",
        "amp-restrict-management-to-localhost",
        "amp-model-mappings",
        "generative-language-api-key",
    ):
        root.pop(key, None)
    compat = root.get("openai-compatibility")
    if isinstance(compat, list):
        for entry in compat:
            if isinstance(entry, dict):
                entry.pop("api-keys", None)


def _prune_to_generated(root: CommentedMap, generated: Node, key: str) -> None:
    if key not in root:
        return
    src = dict(generated[1]).get(key)
    if src is None:
        del root[key]
        return
    if src[0] != "map" or not isinstance(root[key], CommentedMap):
        root[key] = node_to_ruamel(src)
        return
    _prune_missing_keys(root[key], src)


def save_config_preserve_comments(path: str | Path, cfg: dict[str, Any]) -> None:
    """Write ``cfg`` into the YAML file at ``path`` keeping comments, order and quoting."""
    path = Path(path)
    doc = load_document(path.read_text(encoding="utf-8"))
    if doc is None:
        raise ValueError("invalid yaml document structure")
    if not isinstance(doc, CommentedMap):
        raise ValueError("expected root mapping node")
    persisted = dict(cfg)
    persisted["auth"] = {"providers": None}
    generated = to_yaml_node(CONFIG, persisted)
    rehome_head_comments(doc)
    _remove_legacy_sections(doc)
    _prune_to_generated(doc, generated, "oauth-excluded-models")
    merge_mapping(doc, generated)
    normalize_collection_styles(doc)
    path.write_text(_dump(doc), encoding="utf-8")


def save_nested_scalar(path: str | Path, keys: list[str], value: str) -> None:
    """Set one nested string (e.g. remote-management.secret-key), creating maps on the way."""
    path = Path(path)
    doc = load_document(path.read_text(encoding="utf-8"))
    if doc is None:
        doc = CommentedMap()
    node = doc
    for key in keys[:-1]:
        child = node.get(key)
        if not isinstance(child, CommentedMap):
            child = CommentedMap()
            node[key] = child
        node = child
    node[keys[-1]] = _styled_scalar(node.get(keys[-1]), "!!str", value)
    path.write_text(_dump(doc), encoding="utf-8")
