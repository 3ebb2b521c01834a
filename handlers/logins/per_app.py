"""One object per aiohttp app: the one the app factory installed under its key, else one made on first use.

The login session table and the login context are both reached this way, so a handler works in an
app whose factory did not set them up. A started app's mapping is frozen, so the lazily made
object is kept beside it, in a table with weak keys that lets a finished (test) app go away.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TypeVar

from aiohttp import web

__all__ = ["installed_or_lazy"]

T = TypeVar("T")


def installed_or_lazy(app: web.Application, key: web.AppKey[T],
                      lazy: weakref.WeakKeyDictionary[web.Application, T], make: Callable[[], T]) -> T:
    """``app[key]`` when set, else the object ``lazy`` holds for ``app``, made by ``make`` the first time."""
    installed = app.get(key)
    if installed is not None:
        return installed
    made = lazy.get(app)
    if made is None:
        made = lazy[app] = make()
    return made
