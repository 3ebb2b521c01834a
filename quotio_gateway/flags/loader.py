"""Reading flags.yaml (or its JSON twin) into a validated FlagTable, with errors that name the key."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .schema import FlagTable


class FlagsError(ValueError):
    def __init__(self, source: str, key: str, reason: str) -> None:
        self.source, self.key, self.reason = source, key, reason
        where = f" key '{key}'" if key else ""
        super().__init__(f"invalid flags {source}:{where}: {reason}")


def packaged_flags_path() -> Path:
    return Path(str(resources.files("quotio_gateway").joinpath("flags.yaml")))


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


def validate_flags(doc: Any, source: str) -> FlagTable:
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise FlagsError(source, "", "the document must be a mapping")
    try:
        return FlagTable.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        raise FlagsError(source, _loc(first["loc"]), message) from None


def parse_flags_yaml(data: bytes | str, source: str) -> FlagTable:
    try:
        doc = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise FlagsError(source, "", f"{where}{problem}") from None
    return validate_flags(doc, source)


def load_flags_file(path: Path) -> FlagTable:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FlagsError(str(path), "", exc.strerror or str(exc)) from None
    return parse_flags_yaml(data, str(path))


def dump_flags_yaml(table: FlagTable) -> bytes:
    doc = table.model_dump(mode="json", exclude_defaults=False)
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode()
