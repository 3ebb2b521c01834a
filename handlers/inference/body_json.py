"""The client body's JSON as the legacy's readers take it, for the endpoints and for every attempt.

``lenient_json(raw)`` is the fallback where orjson refuses: the endpoint reads a body with it, and
an attempt after the first (``InferenceCall.pristine_body``) must read the same bytes the same
way, or a retried request that the first attempt served would fail on its second.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

NOT_JSON = object()
_SURROGATE = re.compile("[\ud800-\udfff]")


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _replace_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_replace_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_replace_surrogates(key): _replace_surrogates(item) for key, item in value.items()}
    return value


def lenient_json(raw: bytes) -> Any:
    """The body Go's JSON readers still accept where orjson refuses it: a lone UTF-16 surrogate
    escape (a JS client cutting a string inside an emoji) or bytes that are not UTF-8. The
    grammar is the same; the text becomes U+FFFD, as Go's decoder and gjson make it. Anything
    else (NaN, truncation) stays ``NOT_JSON``."""
    try:
        parsed = json.loads(raw.decode("utf-8", "replace"), parse_constant=_reject_constant)
    except ValueError:
        return NOT_JSON
    return _replace_surrogates(parsed)


def load_body(raw: bytes) -> Any:
    """``raw`` as the endpoint read it (orjson, else the lenient reader); ``NOT_JSON`` if neither."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return lenient_json(raw)
