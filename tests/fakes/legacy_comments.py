"""Re-home comments the way yaml.v3 attaches them before the config writer merges.

ruamel.yaml stores the full-line comments that precede a key as the tail of the previous node's
end-of-line comment (often deep inside the previous value). yaml.v3 keeps them as the *head
comment of the key that follows*, so Go never loses them when the previous value is rewritten.
Moving them onto the next key first gives the merge the same behaviour.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.tokens import CommentToken

# Slots in ruamel's per-item comment lists: end-of-line token (maps / lists), comments before.
_MAP_EOL, _SEQ_EOL, _BEFORE = 2, 0, 1


def _tail_location(container: CommentedMap | CommentedSeq, key: Any) -> tuple[dict[Any, list[Any]], Any, int]:
    """Where the comment after ``container[key]`` (and everything nested in it) is stored."""
    value = container[key]
    if isinstance(value, CommentedMap) and len(value):
        return _tail_location(value, list(value)[-1])
    if isinstance(value, CommentedSeq) and len(value):
        return _tail_location(value, len(value) - 1)
    slot = _MAP_EOL if isinstance(container, CommentedMap) else _SEQ_EOL
    return container.ca.items, key, slot


def _split_token(text: str) -> tuple[str, list[str]]:
    """(end-of-line comment, following full-line comment lines) of one ruamel token value."""
    if text.startswith("#"):
        eol, _, rest = text.partition("\n")
        eol += "\n"
    else:
        eol, rest = "", text
    lines = [line.strip() for line in rest.split("\n") if line.strip().startswith("#")]
    return eol, lines


def _take_tail_comments(container: CommentedMap | CommentedSeq, key: Any) -> list[str]:
    items, slot_key, slot = _tail_location(container, key)
    slots = items.get(slot_key)
    if not slots or len(slots) <= slot or not isinstance(slots[slot], CommentToken):
        return []
    token = slots[slot]
    eol, lines = _split_token(token.value)
    if not lines:
        return []
    if eol:
        token.value = eol
    else:
        slots[slot] = None
    return lines


def rehome_head_comments(value: Any) -> None:
    """Move comments that sit between two keys (or list items) onto the second one, everywhere."""
    if not isinstance(value, (CommentedMap, CommentedSeq)):
        return
    positions = list(value) if isinstance(value, CommentedMap) else list(range(len(value)))
    for current, following in pairwise(positions):
        lines = _take_tail_comments(value, current)
        if lines:
            slots = value.ca.items.setdefault(following, [None, None, None, None])
            before = slots[_BEFORE] if isinstance(slots[_BEFORE], list) else []
            slots[_BEFORE] = [CommentToken(line + "\n", CommentMark(0)) for line in lines] + before
    for child in value.values() if isinstance(value, CommentedMap) else value:
        rehome_head_comments(child)
