"""Fixtures of the ops tests: the Prometheus binaries from the Debian package `prometheus`."""

from __future__ import annotations

import os
import shutil

import pytest


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        # CI installs the package; a missing binary there is a broken machine, not a reason to skip.
        if os.environ.get("CI"):
            pytest.fail(f"{name} not found on PATH (apt-get install -y --no-install-recommends prometheus)")
        pytest.skip(f"{name} not installed (Debian package: prometheus)")
    return path


@pytest.fixture(scope="session")
def promtool() -> str:
    return _binary("promtool")


@pytest.fixture(scope="session")
def prometheus_bin() -> str:
    return _binary("prometheus")
