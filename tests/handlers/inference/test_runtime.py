"""Candidate selection in the inference runtime: a credential waiting on a refresh steps aside."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from handlers.inference.runtime import Candidate, InferenceRuntime
from quotio_gateway.config import ConfigStore


class _Source:
    def __init__(self, due: set[str]) -> None:
        self.due = due
        self.asked: list[str] = []

    def usable(self, credential_id: str) -> Any:
        return object()

    def needs_refresh(self, credential_id: str) -> bool:
        self.asked.append(credential_id)
        return credential_id in self.due

    async def refresh_now(self, credential_id: str) -> bool:
        return False


def _runtime(tmp_path: Path, source: _Source) -> InferenceRuntime:
    path = tmp_path / "config.yaml"
    path.write_text("{}\n")
    return InferenceRuntime(ConfigStore(path), oauth=source)  # type: ignore[arg-type]


def _candidates(*ids: str) -> list[Candidate]:
    return [Candidate(i, 0, "qwen", object()) for i in ids]


async def test_due_credentials_step_aside_while_another_can_serve(tmp_path: Path) -> None:
    source = _Source({"a"})
    runtime = _runtime(tmp_path, source)
    try:
        assert [c.id for c in runtime._not_waiting_on_refresh(_candidates("a", "b"))] == ["b"]
        assert source.asked == ["a", "b"]
    finally:
        await runtime.close()


async def test_when_every_credential_is_due_the_request_waits_for_the_refresh(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path, _Source({"a", "b"}))
    try:
        assert [c.id for c in runtime._not_waiting_on_refresh(_candidates("a", "b"))] == ["a", "b"]
    finally:
        await runtime.close()
