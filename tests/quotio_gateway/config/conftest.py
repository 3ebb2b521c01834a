"""Fixtures for the config package: a private copy of the example config per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def example_path(tmp_path: Path) -> Path:
    target = tmp_path / "config.yaml"
    shutil.copyfile(FIXTURES / "config.example.yaml", target)
    return target


@pytest.fixture
def write_config(tmp_path: Path):
    def write(text: str, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
