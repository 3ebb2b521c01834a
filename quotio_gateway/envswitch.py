"""On/off switches read from the environment at start-up (QUOTIO_GATEWAY_*; the README lists them).

A switch that is on by default goes off only for an explicit off word; one that is off by default
goes on only for an explicit on word. Unset or blank leaves the default either way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

_OFF = ("0", "off", "false", "no")
_ON = ("1", "on", "true", "yes")


def switch(name: str, *, default: bool, environ: Mapping[str, str] | None = None) -> bool:
    value = (environ if environ is not None else os.environ).get(name, "").strip().lower()
    if not value:
        return default
    return value not in _OFF if default else value in _ON
