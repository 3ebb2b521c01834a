"""The client body's JSON as the legacy's readers take it, for the endpoints and for every attempt.

``lenient_json(raw)`` is the fallback where orjson refuses: the endpoint reads a body with it, and
an attempt after the first (``InferenceCall.pristine_body``) must read the same bytes the same
way, or a retried request that the first attempt served would fail on its second.
"""

from __future__ import annotations

from typing import Any

import orjson

from handlers.translation.sse import lenient_loads

NOT_JSON = object()


def lenient_json(raw: bytes) -> Any:
    """The body Go's JSON readers still accept where orjson refuses it: a lone UTF-16 surrogate
    escape (a JS client cutting a string inside an emoji) or bytes that are not UTF-8. The
    grammar is the same; the text becomes U+FFFD, as Go's decoder and gjson make it. Anything
    else (NaN, truncation) stays ``NOT_JSON``."""
    try:
        return lenient_loads(raw.decode("utf-8", "replace"))
    except ValueError:
        return NOT_JSON


def load_body(raw: bytes) -> Any:
    """``raw`` as the endpoint read it (orjson, else the lenient reader); ``NOT_JSON`` if neither."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return lenient_json(raw)
