"""Write ``config.yaml`` back the way CLIProxyAPI's ``SaveConfigPreserveComments`` does.

Go renders the whole struct with yaml.v3 (``YamlNode`` tree below: which keys exist, their tags,
map keys sorted like yaml.v3's key sorter), then merges that tree into the parsed original file:
existing keys are updated in place (comments, order and scalar quoting kept), new keys are only
appended when non-zero, sequences are re-ordered by element identity, legacy blocks are dropped,
collections are forced to block style and standalone comment lines are left-aligned. We do the
same on a ruamel.yaml round-trip tree and write the result atomically.

ruamel attaches the comment lines that follow a value to the deepest last scalar before them, so
removing or moving a node could take the next key's comment with it; ``_take_after`` and
``_put_after`` move those lines to wherever the neighbouring content now ends.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.emitter import RoundTripEmitter
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString, ScalarString
from ruamel.yaml.tokens import CommentToken

from ..fileio import atomic_write
from .gojson import YamlMap, YamlNode, YamlScalar, YamlSeq, render_go_yaml
from .models import YAML11_BOOLS, Config, convert_old_alias_mappings, default_antigravity_aliases

_LEGACY_ROOT_KEYS = ("auth", "amp-upstream-url", "amp-upstream-api-key",
                     "amp-restrict-management-to-localhost", "amp-model-mappings",
                     "generative-language-api-key")
_IDENTITY_KEYS = ("id", "name", "alias", "api-key", "api_key", "apikey", "key", "provider", "model")


def render_config_for_persist(cfg: Config) -> YamlMap:
    """``sanitizeConfigForPersist``: the auth providers block never goes back into the file."""
    persist = cfg.model_copy(update={"auth": type(cfg.auth)()})
    node = render_go_yaml(persist)
    assert isinstance(node, YamlMap)
    return node


def _is_zero_node(node: YamlNode | None) -> bool:
    """``isZeroValueNode``: new keys whose rendered value is all zeros are not added."""
    if node is None:
        return True
    if isinstance(node, YamlScalar):
        if node.tag == "str":
            return node.value == ""
        if node.tag in ("bool", "int", "float"):
            return not node.value
        return True
    if isinstance(node, YamlSeq):
        return all(_is_zero_node(c) for c in node.items)
    return all(_is_zero_node(v) for _, v in node.items)


# --- building ruamel values -----------------------------------------------------------------


_BASE60 = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")


def _new_str(value: str) -> str:
    # yaml.v3 quotes YAML 1.1 booleans and base-60 numbers so old parsers keep them as text,
    # and prints multi-line text as a literal block.
    if value in YAML11_BOOLS or _BASE60.match(value):
        return DoubleQuotedScalarString(value)
    if "\n" in value:
        return LiteralScalarString(value)
    return value


def _build(node: YamlNode) -> Any:
    if isinstance(node, YamlMap):
        cm = CommentedMap()
        for k, v in node.items:
            cm[k] = _build(v)
        return cm
    if isinstance(node, YamlSeq):
        seq = CommentedSeq()
        seq.extend(_build(v) for v in node.items)
        return seq
    if node.tag == "str":
        return _new_str(node.value)
    return node.value


# --- comment tails --------------------------------------------------------------------------


def _slot(container: Any, key: Any) -> tuple[list[Any], int] | None:
    entry = container.ca.items.get(key)
    index = 2 if isinstance(container, CommentedMap) else 0
    if entry is None or len(entry) <= index:
        return None
    return entry, index


def _last_key(container: Any) -> Any:
    if isinstance(container, CommentedMap):
        return next(reversed(container)) if container else None
    return len(container) - 1 if len(container) else None


def _split_token(text: str) -> tuple[str, str]:
    """(own end-of-line part, the lines after it) of a trailing comment token."""
    if text.startswith("#"):
        first, _, rest = text.partition("\n")
        return first + "\n", rest
    return "\n", text[1:] if text.startswith("\n") else text


def _take_after(container: Any, key: Any) -> str:
    """Remove and return the comment lines that follow entry ``key`` (its own EOL comment stays)."""
    value = container[key]
    if isinstance(value, CommentedMap | CommentedSeq) and len(value):
        found = _take_after(value, _last_key(value))
        if found:
            return found
    slot = _slot(container, key)
    if slot is None or slot[0][slot[1]] is None:
        return ""
    token = slot[0][slot[1]]
    own, after = _split_token(token.value)
    if own == "\n":
        slot[0][slot[1]] = None
    else:
        token.value = own
    return after


def _put_after(container: Any, key: Any, after: str) -> None:
    if not after:
        return
    value = container[key]
    if isinstance(value, CommentedMap | CommentedSeq) and len(value):
        _put_after(value, _last_key(value), after)
        return
    index = 2 if isinstance(container, CommentedMap) else 0
    entry = container.ca.items.setdefault(key, [None, None, None, None])
    token = entry[index]
    if token is None:
        entry[index] = CommentToken("\n" + after, _mark(), None)
    else:
        own, _ = _split_token(token.value)
        token.value = own + after


def _mark() -> CommentMark:
    return CommentMark(0)


def _remove_key(cm: CommentedMap, key: Any) -> None:
    """Delete ``key``; the comment lines after it (the next key's head) survive on the previous
    entry, replacing the removed key's own head comment, which Go drops with the node."""
    if key not in cm:
        return
    keys = list(cm)
    pos = keys.index(key)
    after = _take_after(cm, key)
    del cm[key]
    cm.ca.items.pop(key, None)
    if pos > 0:
        prev = keys[pos - 1]
        _take_after(cm, prev)
        _put_after(cm, prev, after)
    elif after and pos < len(keys) - 1:
        head = cm.ca.comment
        if head is not None and head[1]:
            head[1].append(CommentToken(after, _mark(), None))


def _replace_value(container: Any, key: Any, value: Any) -> None:
    if container[key] is value:
        return
    after = _take_after(container, key)
    container[key] = value
    _put_after(container, key, after)


# --- merge (mergeMappingPreserve / mergeNodePreserve) ---------------------------------------


def _merge_mapping(dst: CommentedMap, src: YamlMap) -> None:
    for key, sv in src.items:
        if key in dst:
            _merge_entry(dst, key, sv)
        elif not _is_zero_node(sv):
            dst[key] = _build(sv)


def _merge_entry(container: Any, key: Any, src: YamlNode) -> None:
    """Merge into ``container[key]``, keeping the comment lines that follow the entry in place."""
    after = _take_after(container, key)
    merged = _merge_node(container[key], src)
    if merged is not container[key]:
        container[key] = merged
    _put_after(container, key, after)


def _merge_node(dst: Any, src: YamlNode) -> Any:
    """Merge ``src`` into ``dst``; returns the value to store (``dst`` itself when kept)."""
    if isinstance(src, YamlMap):
        if not isinstance(dst, CommentedMap):
            return _build(src)
        _merge_mapping(dst, src)
        return dst
    if isinstance(src, YamlSeq):
        if dst is None and not src.items:
            return None  # an explicit null stays null
        if not isinstance(dst, CommentedSeq):
            dst = CommentedSeq()
        _merge_sequence(dst, src)
        return dst
    if src.tag == "str":
        if isinstance(dst, ScalarString):
            return type(dst)(src.value)  # keep the file's quoting style
        return _new_str(src.value)
    return src.value


def _merge_sequence(dst: CommentedSeq, src: YamlSeq) -> None:
    """Re-order ``dst`` to ``src`` by element identity, merge matched items, build the rest.

    Comment lines between two items belong to the item below them (Go's head comment), so they
    travel with that item when the list is re-ordered.
    """
    old = list(dst)
    heads = {i + 1: _take_after(dst, i) for i in range(len(old) - 1)}
    old_ca = dict(dst.ca.items)
    used = [False] * len(old)
    picks: list[int | None] = []
    for target in src.items:
        idx = _match_element(old, used, target) if old else None
        if idx is not None:
            used[idx] = True
        picks.append(idx)
    del dst[:]
    dst.ca.items.clear()
    for i, (idx, sv) in enumerate(zip(picks, src.items, strict=True)):
        if idx is None:
            dst.append(_build(sv))
            continue
        merged = _merge_node(old[idx], sv)
        if isinstance(merged, CommentedMap) and isinstance(sv, YamlMap):
            _prune_missing_keys(merged, sv)
        dst.append(merged)
        if idx in old_ca:
            dst.ca.items[i] = old_ca[idx]
    for i in range(1, len(dst)):
        idx = picks[i]
        if idx is not None and heads.get(idx):
            _put_after(dst, i - 1, heads[idx])


def _prune_missing_keys(dst: CommentedMap, src: YamlMap) -> None:
    keep = {k.strip() for k, _ in src.items if k.strip()}
    for key in list(dst):
        if str(key).strip() not in keep:
            _remove_key(dst, key)


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, CommentedMap | CommentedSeq):
        return None
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _pair_texts(node: CommentedMap | YamlMap) -> list[tuple[str, str | None]]:
    """(key, scalar text or None for collections) of a file mapping or a rendered one."""
    if isinstance(node, YamlMap):
        return [(k, _render_text(v) if isinstance(v, YamlScalar) else None) for k, v in node.items]
    return [(str(k), _scalar_text(v)) for k, v in node.items()]


def _identity(node: CommentedMap | YamlMap) -> str:
    """``sequenceElementIdentity``: the first well-known id field, else the first scalar field."""
    texts = _pair_texts(node)
    for wanted in _IDENTITY_KEYS:
        for k, text in texts:
            if text is not None and k.strip().lower() == wanted:
                if text.strip():
                    return f"{wanted}={text.strip()}"
                break
    for k, text in texts:
        if text is not None and text.strip():
            return f"{k.strip().lower()}={text.strip()}"
    return ""


def _render_text(node: YamlScalar) -> str:
    if node.tag == "bool":
        return "true" if node.value else "false"
    if node.tag == "null":
        return ""
    return str(node.value)


def _match_element(old: list[Any], used: list[bool], target: YamlNode) -> int | None:
    if isinstance(target, YamlMap):
        ident = _identity(target)
        if ident:
            for i, cand in enumerate(old):
                if not used[i] and isinstance(cand, CommentedMap) and _identity(cand) == ident:
                    return i
    elif isinstance(target, YamlScalar):
        val = _render_text(target).strip()
        if val:
            for i, cand in enumerate(old):
                text = _scalar_text(cand)
                if not used[i] and text is not None and text.strip() == val:
                    return i
    for i, cand in enumerate(old):
        if not used[i] and _structurally_equal(cand, target):
            return i
    return None


def _structurally_equal(a: Any, b: YamlNode) -> bool:
    if isinstance(b, YamlMap):
        if not isinstance(a, CommentedMap) or len(a) != len(b.items):
            return False
        return all(str(ak).strip() == bk.strip() and _structurally_equal(av, bv)
                   for (ak, av), (bk, bv) in zip(a.items(), b.items, strict=True))
    if isinstance(b, YamlSeq):
        if not isinstance(a, CommentedSeq) or len(a) != len(b.items):
            return False
        return all(_structurally_equal(x, y) for x, y in zip(a, b.items, strict=True))
    text = _scalar_text(a)
    return text is not None and text.strip() == _render_text(b).strip()


def _prune_to_generated(root: CommentedMap, gen: YamlMap, key: str) -> None:
    """``pruneMappingToGeneratedKeys`` for one top-level key."""
    if key not in root:
        return
    src = dict(gen.items).get(key)
    if src is None:
        _remove_key(root, key)
        return
    dst = root[key]
    if not isinstance(src, YamlMap) or not isinstance(dst, CommentedMap):
        _replace_value(root, key, _build(src))
        return
    _prune_missing_keys(dst, src)


def _prune_emptied_child(root: CommentedMap, gen: YamlMap, key: str, child: str) -> None:
    """Drop ``key.child`` from the file when the config no longer has it. The legacy's merge skips
    an emptied (omitempty) list, so clearing Amp's upstream-api-keys was answered ok and undone
    by the reload (compatibility.md)."""
    section = root.get(key)
    if not isinstance(section, CommentedMap) or not section.get(child):
        return  # absent, or already empty: an explicit [] in the file stays as written
    generated = dict(gen.items).get(key)
    if not isinstance(generated, YamlMap) or child not in dict(generated.items):
        _remove_key(section, child)


def _remove_legacy_blocks(root: CommentedMap) -> None:
    for key in _LEGACY_ROOT_KEYS:
        _remove_key(root, key)
    compat = root.get("openai-compatibility")
    if isinstance(compat, CommentedSeq):
        for entry in compat:
            if isinstance(entry, CommentedMap):
                _remove_key(entry, "api-keys")


def _normalize_styles(node: Any) -> None:
    """Block style everywhere, except that an empty list stays ``[]``; end-of-line comments sit
    one space after their value as yaml.v3 prints them (ruamel would keep the old column)."""
    if isinstance(node, CommentedMap | CommentedSeq):
        for slots in node.ca.items.values():
            for token in slots:
                if isinstance(token, CommentToken) and token.value.startswith("#"):
                    token.start_mark.column = 0
    if isinstance(node, CommentedMap):
        node.fa.set_block_style()
        for v in node.values():
            _normalize_styles(v)
    elif isinstance(node, CommentedSeq):
        if len(node):
            node.fa.set_block_style()
        else:
            node.fa.set_flow_style()
        for v in node:
            _normalize_styles(v)


# --- ruamel I/O -----------------------------------------------------------------------------


class _GoStyleEmitter(RoundTripEmitter):
    """Quote with double quotes where a plain scalar is impossible, as yaml.v3 does."""

    def choose_scalar_style(self) -> Any:
        style = super().choose_scalar_style()
        if style == "'" and not getattr(self.event, "style", None):
            return '"'
        return style


class _SourceInt(int):
    """An integer read from the original file, with the text it was written as.

    yaml.v3 keeps an untouched node's text, so a key the gateway does not know keeps ``-0x1F``,
    ``-017`` or ``+12`` byte for byte; ruamel's own int types would print ``!!int "0x-1F"`` (which
    no loader reads back) or drop the sign and the leading zero.
    """

    text: str

    def __new__(cls, value: int, text: str) -> _SourceInt:
        obj = super().__new__(cls, value)
        obj.text = text
        return obj


class _SourceConstructor(RoundTripConstructor):
    def construct_yaml_int(self, node: ScalarNode) -> Any:  # type: ignore[override]
        return _SourceInt(int(super().construct_yaml_int(node)), str(node.value))


_SourceConstructor.add_constructor("tag:yaml.org,2002:int", _SourceConstructor.construct_yaml_int)


class _SourceRepresenter(RoundTripRepresenter):
    def represent_source_int(self, data: _SourceInt) -> Any:
        return self.represent_scalar("tag:yaml.org,2002:int", data.text)


_SourceRepresenter.add_representer(_SourceInt, _SourceRepresenter.represent_source_int)


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.Constructor = _SourceConstructor
    y.Representer = _SourceRepresenter
    y.preserve_quotes = True
    y.indent(mapping=2, sequence=4, offset=2)
    y.width = 1 << 20  # yaml.v3 does not fold long lines
    y.Emitter = _GoStyleEmitter
    return y


_COMMENT_LINE = re.compile(rb"^[ \t]+#")
_BLOCK_SCALAR_HEADER = re.compile(rb"(?:^|[:-][ \t])[|>][-+0-9]*[ \t]*(?:#.*)?$")


def left_align_comments(data: bytes) -> bytes:
    """``NormalizeCommentIndentation``: standalone comment lines start at column 0."""
    lines = data.split(b"\n")
    return b"\n".join(line.lstrip(b" \t") if _COMMENT_LINE.match(line) else line for line in lines)


def _drop_blank_lines(data: bytes) -> bytes:
    """yaml.v3 keeps comments but not blank lines. Two survive: lines inside block scalars, and
    the one break it prints after the document's leading comment block."""
    out: list[bytes] = []
    block_indent: int | None = None
    leading = True
    seen_comment = kept_leading_blank = False
    for line in data.split(b"\n"):
        stripped = line.strip()
        indent = len(line) - len(line.lstrip(b" "))
        if block_indent is not None and stripped and indent <= block_indent:
            block_indent = None
        if leading:
            if stripped.startswith(b"#"):
                seen_comment = True
            elif stripped:
                leading = False
            elif seen_comment and not kept_leading_blank:
                kept_leading_blank = True
                out.append(line)
                continue
        if not stripped and block_indent is None:
            continue
        out.append(line)
        if block_indent is None and _BLOCK_SCALAR_HEADER.search(line.rstrip()):
            block_indent = indent
    return b"\n".join(out) + b"\n"


def _finish(data: bytes) -> bytes:
    return left_align_comments(_drop_blank_lines(data))


def _load_document(path: Path) -> CommentedMap:
    text = path.read_text(encoding="utf-8")
    try:
        doc = _yaml().load(text)
    except YAMLError as exc:
        raise ValueError(f"invalid yaml document: {exc}") from None
    if doc is None:
        raise ValueError("invalid yaml document structure")
    if not isinstance(doc, CommentedMap):
        raise ValueError("expected root mapping node")
    return doc


def _dump(doc: CommentedMap) -> bytes:
    buf = io.StringIO()
    _yaml().dump(doc, buf)
    return buf.getvalue().encode("utf-8")


def render_preserving(original: CommentedMap, cfg: Config) -> bytes:
    """Merge ``cfg`` into the parsed original document and return the new file content."""
    gen = render_config_for_persist(cfg)
    _remove_legacy_blocks(original)
    _prune_to_generated(original, gen, "oauth-excluded-models")
    _prune_emptied_child(original, gen, "ampcode", "upstream-api-keys")
    _merge_mapping(original, gen)
    if cfg.gateway is not None:
        _sync_mapping_key(original, "gateway", cfg.gateway)
    _normalize_styles(original)
    return _finish(_dump(original))


def _sync_mapping_key(root: CommentedMap, key: str, value: dict[str, Any]) -> None:
    """Our own section is written exactly (keys we dropped are removed), comments kept."""
    node = YamlMap(list(zip(value.keys(), [render_go_yaml(v) for v in value.values()], strict=True)))
    if key not in root or not isinstance(root[key], CommentedMap):
        if key in root:
            _replace_value(root, key, _build(node))
        else:
            root[key] = _build(node)
        return
    _merge_mapping_exact(root[key], node)


def _merge_mapping_exact(dst: CommentedMap, src: YamlMap) -> None:
    keep = {k for k, _ in src.items}
    for k in list(dst):
        if k not in keep:
            _remove_key(dst, k)
    for k, sv in src.items:
        if k in dst and isinstance(sv, YamlMap) and isinstance(dst[k], CommentedMap):
            _merge_mapping_exact(dst[k], sv)
        elif k in dst:
            _merge_entry(dst, k, sv)
        else:
            dst[k] = _build(sv)


def save_config_preserving(path: Path, cfg: Config) -> None:
    """``SaveConfigPreserveComments``: the file must exist and hold a mapping (or be empty)."""
    path = Path(path)
    original = _load_document(path)
    atomic_write(path, render_preserving(original, cfg))


def update_nested_scalar(path: Path, keys: list[str], value: str) -> None:
    """``SaveConfigPreserveCommentsUpdateNestedScalar``: set one string, creating maps on the way."""
    path = Path(path)
    doc = _load_document(path)
    node = doc
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        if last:
            current = node.get(key)
            if key in node:
                new = type(current)(value) if isinstance(current, ScalarString) else _new_str(value)
                _replace_value(node, key, new)
            else:
                node[key] = _new_str(value)
        else:
            child = node.get(key)
            if not isinstance(child, CommentedMap):
                child_new = CommentedMap()
                if key in node:
                    _replace_value(node, key, child_new)
                else:
                    node[key] = child_new
                child = child_new
            node = child
    atomic_write(path, _finish(_dump(doc)))


def migrate_oauth_model_alias(path: Path) -> bool:
    """``MigrateOAuthModelAlias``: rename ``oauth-model-mappings`` or seed antigravity aliases.

    Runs before every load. Returns True when the file was rewritten.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    if not text:
        return False
    try:
        doc = _yaml().load(text)
    except YAMLError:
        return False
    if not isinstance(doc, CommentedMap) or "oauth-model-alias" in doc:
        return False
    if "oauth-model-mappings" in doc:
        old = doc["oauth-model-mappings"]
        if not isinstance(old, CommentedMap):
            return False
        aliases = convert_old_alias_mappings(old)
        if not aliases:
            _remove_key(doc, "oauth-model-mappings")
        else:
            pos = list(doc).index("oauth-model-mappings")
            after = _take_after(doc, "oauth-model-mappings")
            eol = doc.ca.items.pop("oauth-model-mappings", None)
            del doc["oauth-model-mappings"]
            doc.insert(pos, "oauth-model-alias", _build(render_go_yaml(aliases)))
            if eol is not None:
                doc.ca.items["oauth-model-alias"] = eol
            _put_after(doc, "oauth-model-alias", after)
    else:
        doc["oauth-model-alias"] = _build(render_go_yaml({"antigravity": default_antigravity_aliases()}))
    atomic_write(path, _drop_blank_lines(_dump(doc)))
    return True


__all__ = [
    "migrate_oauth_model_alias",
    "render_config_for_persist",
    "render_go_yaml",
    "render_preserving",
    "save_config_preserving",
    "update_nested_scalar",
]
