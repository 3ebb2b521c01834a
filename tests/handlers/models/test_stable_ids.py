"""Config credentials get the legacy's stable IDs (synthesizer StableIDGenerator), in both places
that name them: the model registry and the executors' credential list."""

from __future__ import annotations

from pathlib import Path

from handlers.models.registry import StableIds, build_registry
from handlers.providers.base import credentials_from_config
from quotio_gateway.config import Config
from quotio_gateway.config.loader import parse_config

CONFIG = """
gemini-api-key:
  - api-key: AIza
claude-api-key:
  - api-key: sk-a
    base-url: https://api.example.com
  - api-key: sk-a
    base-url: https://api.example.com
    prefix: teamb
openai-compatibility:
  - name: Acme
    base-url: https://acme.example/v1
    api-key-entries:
      - api-key: sk-c
  - name: acme
    base-url: https://acme.example/v1
vertex-api-key:
  - api-key: vk
    base-url: https://vertex.example
    models: [{name: gemini-2.5-pro, alias: vp}]
"""

# sha256("claude:apikey" NUL "sk-a" NUL "https://api.example.com")[:12], and so on: the legacy's
# formula, each value worked out once and pinned here.
EXPECTED = [
    "gemini:apikey:01c77d504770",
    "claude:apikey:d415446d7c99",
    "claude:apikey:d415446d7c99-1",  # the same key and base again: a second credential
    "openai-compatibility:acme:29dc8fa54986",  # key, base and (empty) proxy URL
    "openai-compatibility:acme:6a8fd5715e7d",  # no key entries: the base alone
    "vertex:apikey:563c152c30a3",  # key, base and (empty) proxy URL
]


def cfg(text: str) -> Config:
    return parse_config(text, Path("config.yaml"), persist=False)


def test_the_ids_are_the_legacys() -> None:
    config = cfg(CONFIG)
    assert [c.id for c in credentials_from_config(config)] == EXPECTED
    assert [c.id for c in build_registry(config).credentials] == EXPECTED


def test_a_repeated_entry_keeps_its_own_prefix_and_headers() -> None:
    config = cfg(CONFIG.replace("    prefix: teamb\n", "    prefix: teamb\n    headers: {X-Team: b}\n"))
    first, second = (c for c in credentials_from_config(config) if c.provider == "claude")
    assert (first.id, second.id) == (EXPECTED[1], EXPECTED[2])
    assert dict(second.headers) == {"X-Team": "b"} and dict(first.headers) == {}
    registry = build_registry(config)
    served = {m.id for m in registry.available()}
    assert "claude-sonnet-4-5-20250929" in served and "teamb/claude-sonnet-4-5-20250929" in served


def test_parts_are_trimmed_and_a_repeat_counter_is_per_id() -> None:
    ids = StableIds()
    assert ids.next("claude:apikey", " sk-a ", "https://api.example.com ") == EXPECTED[1]
    assert ids.next("claude:apikey", "sk-a", "https://api.example.com") == EXPECTED[2]
    assert ids.next("claude:apikey", "sk-a", "https://api.example.com") == EXPECTED[1] + "-2"
    assert ids.next("gemini:apikey", "AIza", "") == EXPECTED[0]
