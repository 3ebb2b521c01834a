"""Model registry: what each config section registers, exclusions, aliases, prefixes, lookups."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.models.catalog import CLAUDE, CODEX, GEMINI, GEMINI_CLI, VERTEX, ModelInfo, lookup_static
from handlers.models.registry import (
    CredentialRecord,
    LiveModelRegistry,
    UnknownModelError,
    build_registry,
    match_wildcard,
    registry_for,
    split_thinking_suffix,
)
from quotio_gateway.config import Config, ConfigStore
from quotio_gateway.config.loader import parse_config


def cfg(text: str) -> Config:
    return parse_config(text, Path("config.yaml"), persist=False)


def ids(registry: object) -> list[str]:
    return [m.id for m in registry.available()]  # type: ignore[attr-defined]


def test_empty_config_registers_nothing() -> None:
    registry = build_registry(Config())
    assert registry.available() == []
    with pytest.raises(UnknownModelError) as err:
        registry.resolve("gpt-5")
    assert str(err.value) == "unknown provider for model gpt-5"


@pytest.mark.parametrize(("section", "provider", "catalogue"), [
    ("gemini-api-key", "gemini", GEMINI),
    ("claude-api-key", "claude", CLAUDE),
    ("codex-api-key", "codex", CODEX),
])
def test_api_key_sections_register_their_catalogue(section: str, provider: str, catalogue: tuple) -> None:
    registry = build_registry(cfg(f"{section}:\n  - api-key: k1\n    base-url: https://up\n"))
    assert ids(registry) == [m.id for m in catalogue]
    assert all(registry.providers(m.id) == [provider] for m in catalogue)
    assert registry.get(catalogue[0].id) == catalogue[0]


def test_vertex_key_registers_vertex_catalogue() -> None:
    registry = build_registry(cfg("vertex-api-key:\n  - api-key: v1\n    base-url: https://vx\n"))
    assert ids(registry) == [m.id for m in VERTEX]
    assert registry.lookup("gemini-2.5-pro") == ["vertex"]


def test_empty_api_key_registers_nothing() -> None:
    registry = build_registry(Config.model_validate({"claude-api-key": [{"api-key": "  "}]}))
    assert registry.available() == []


def test_models_list_replaces_catalogue_with_aliases() -> None:
    registry = build_registry(cfg("""
claude-api-key:
  - api-key: k1
    models:
      - {name: claude-sonnet-4-5-20250929, alias: cs45}
      - {name: custom-upstream}
      - {name: dup, alias: CS45}
"""), now=1234)
    assert ids(registry) == ["cs45", "custom-upstream"]
    cs45 = registry.get("cs45")
    assert cs45 is not None
    assert (cs45.created, cs45.owned_by, cs45.type, cs45.display_name, cs45.user_defined) == (
        1234, "anthropic", "claude", "claude-sonnet-4-5-20250929", True)
    # Thinking support is inherited from the static entry of the upstream name.
    assert cs45.thinking == lookup_static("claude-sonnet-4-5-20250929").thinking  # type: ignore[union-attr]
    assert registry.get("custom-upstream").thinking is None  # type: ignore[union-attr]


_GEMINI_IDS = ["gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-3-pro-preview",
               "gemini-3-flash-preview", "gemini-3-pro-image-preview"]


@pytest.mark.parametrize(("patterns", "removed"), [
    (["gemini-2.5-pro"], {"gemini-2.5-pro"}),
    (["GEMINI-2.5-*"], {"gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite"}),
    (["*-preview"], {"gemini-3-pro-preview", "gemini-3-flash-preview", "gemini-3-pro-image-preview"}),
    (["*flash*"], {"gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-3-flash-preview"}),
    (["gemini-*-pro*"], {"gemini-2.5-pro", "gemini-3-pro-preview", "gemini-3-pro-image-preview"}),
    (["*image*", "gemini-2.5-flash"], {"gemini-3-pro-image-preview", "gemini-2.5-flash"}),
])
def test_excluded_models_wildcards(patterns: list[str], removed: set[str]) -> None:
    assert [m.id for m in GEMINI] == _GEMINI_IDS
    config = Config.model_validate({"gemini-api-key": [{"api-key": "k", "excluded-models": patterns}]})
    assert ids(build_registry(config)) == [i for i in _GEMINI_IDS if i not in removed]


def test_match_wildcard() -> None:
    assert match_wildcard("a*b*c", "axxbyyc")
    assert not match_wildcard("a*c*b", "axxbyyc")
    assert match_wildcard("*", "anything")
    assert not match_wildcard("", "")
    assert not match_wildcard("abc", "abcd")


def test_prefix_registers_both_ids_unless_forced() -> None:
    text = "gemini-api-key:\n  - api-key: k1\n    prefix: /teamA/\n"
    loose = build_registry(cfg(text))
    assert ids(loose)[:2] == ["gemini-2.5-pro", "teamA/gemini-2.5-pro"]
    assert len(ids(loose)) == 2 * len(GEMINI)
    forced = build_registry(cfg("force-model-prefix: true\n" + text))
    assert ids(forced) == [f"teamA/{m.id}" for m in GEMINI]
    with pytest.raises(UnknownModelError):
        forced.resolve("gemini-2.5-pro")
    assert forced.resolve("teamA/gemini-2.5-pro") == (["gemini"], "teamA/gemini-2.5-pro")


def test_forced_prefix_keeps_id_equal_to_prefix() -> None:
    config = cfg("""
force-model-prefix: true
claude-api-key:
  - api-key: k1
    prefix: solo
    models: [{name: x, alias: solo}, {name: y, alias: other}]
""")
    assert ids(build_registry(config)) == ["solo", "solo/solo", "solo/other"]


def test_prefix_with_inner_slash_is_dropped() -> None:
    registry = build_registry(cfg("gemini-api-key:\n  - api-key: k1\n    prefix: a/b\n"))
    assert ids(registry) == [m.id for m in GEMINI]


def test_openai_compatibility_models_and_counts() -> None:
    registry = build_registry(cfg("""
claude-api-key:
  - api-key: c1
    models: [{name: shared}]
openai-compatibility:
  - name: OpenRouter
    base-url: https://openrouter.example/v1
    api-key-entries: [{api-key: k1}, {api-key: k2}]
    models: [{name: upstream-a, alias: a}, {name: b}, {name: shared}]
  - name: nokeys
    base-url: https://local.example/v1
    models: [{name: local}]
  - name: empty
    base-url: https://empty.example/v1
"""), now=77)
    assert ids(registry) == ["shared", "a", "b", "local"]
    a = registry.get("a")
    assert a == ModelInfo(id="a", created=77, owned_by="OpenRouter", type="openai-compatibility",
                          display_name="a")
    # Two OpenRouter credentials outnumber one Claude key; ties would sort by name.
    assert registry.providers("shared") == ["openrouter", "claude"]
    assert registry.providers("local") == ["nokeys"]
    # The metadata shown is the last registration's.
    assert registry.get("shared").owned_by == "OpenRouter"  # type: ignore[union-attr]
    assert registry.get("shared", "claude").owned_by == "anthropic"  # type: ignore[union-attr]


def test_compat_duplicate_ids_count_twice() -> None:
    registry = build_registry(cfg("""
gemini-api-key:
  - api-key: g1
    models: [{name: m, alias: same}]
  - api-key: g2
    models: [{name: m, alias: same}]
openai-compatibility:
  - name: zeta
    base-url: https://z.example
    models: [{name: same}, {name: same}]
"""))
    assert registry.providers("same") == ["gemini", "zeta"]


def test_oauth_records_use_global_exclusions_and_aliases() -> None:
    config = cfg("""
oauth-excluded-models:
  gemini-cli: ["*flash-lite*"]
oauth-model-alias:
  gemini-cli:
    - {name: gemini-2.5-pro, alias: g-pro}
    - {name: gemini-2.5-flash, alias: g-flash, fork: true}
""")
    registry = build_registry(config, [("gemini-cli", "", None)])
    expected = [m.id for m in GEMINI_CLI if "flash-lite" not in m.id]
    expected = ["g-pro" if i == "gemini-2.5-pro" else i for i in expected]
    expected.insert(expected.index("gemini-2.5-flash") + 1, "g-flash")
    assert ids(registry) == expected
    assert registry.get("g-pro").name == "models/g-pro"  # type: ignore[union-attr]
    assert registry.providers("g-flash") == ["gemini-cli"]
    cred = registry.credentials[0]
    assert registry.upstream_model(cred.id, "g-pro(8192)") == "gemini-2.5-pro(8192)"
    assert registry.upstream_model(cred.id, "G-PRO") == "gemini-2.5-pro"


EXP = "gemini-2.5-pro-exp-03-25"


@pytest.mark.parametrize(("channel", "name", "alias", "requested", "upstream"), [
    ("gemini-cli", EXP, "gemini-2.5-pro", "gemini-2.5-pro(8192)", f"{EXP}(8192)"),
    ("gemini-cli", EXP, "gemini-2.5-pro", "gemini-2.5-pro(auto)", f"{EXP}(auto)"),
    # A suffix written in the alias's name wins over the request's.
    ("claude", "claude-sonnet-4-5-20250514(low)", "claude-sonnet-4-5", "claude-sonnet-4-5(high)",
     "claude-sonnet-4-5-20250514(low)"),
    ("gemini-cli", EXP, "Gemini-2.5-Pro", "gemini-2.5-pro(high)", f"{EXP}(high)"),
    # An empty suffix is no suffix; an unclosed one is part of the name.
    ("gemini-cli", EXP, "gemini-2.5-pro", "gemini-2.5-pro()", EXP),
    ("gemini-cli", EXP, "gemini-2.5-pro(high", "gemini-2.5-pro(high", EXP),
    ("gemini-cli", EXP, "gemini-2.5-pro", "unknown-model(high)", "unknown-model(high)"),
])
def test_oauth_alias_keeps_or_overrides_the_thinking_suffix(channel: str, name: str, alias: str, requested: str,
                                                             upstream: str) -> None:
    """Golden 49: the vectors of sdk/cliproxy/auth/oauth_model_alias_test.go:9-120 at 9b72ea9ef."""
    config = cfg(f"oauth-model-alias:\n  {channel}:\n    - {{name: '{name}', alias: '{alias}'}}\n")
    registry = build_registry(config, [(channel, "", None)])
    assert registry.upstream_model(registry.credentials[0].id, requested) == upstream


def test_oauth_record_overrides() -> None:
    fetched = (ModelInfo(id="live-1", owned_by="antigravity"), ModelInfo(id="live-2"))
    record = CredentialRecord(provider="Antigravity", prefix="ag", excluded=("live-2",), models=fetched, id="file-1")
    registry = build_registry(cfg("force-model-prefix: true\n"), [record])
    assert ids(registry) == ["ag/live-1"]
    assert registry.providers("ag/live-1") == ["antigravity"]
    assert registry.credential("file-1") is not None
    assert registry.upstream_model("file-1", "ag/live-1") == "live-1"


def test_api_keys_ignore_oauth_sections() -> None:
    config = cfg("""
oauth-excluded-models: {claude: ["*"]}
oauth-model-alias: {claude: [{name: claude-3-5-haiku-20241022, alias: haiku}]}
claude-api-key:
  - api-key: k1
""")
    registry = build_registry(config)
    assert ids(registry) == [m.id for m in CLAUDE]
    assert registry.upstream_model(registry.credentials[0].id, "haiku") == "haiku"


def test_upstream_model_for_api_keys() -> None:
    registry = build_registry(cfg("""
gemini-api-key:
  - api-key: k1
    prefix: team
    models:
      - {name: gemini-2.5-pro-exp-03-25, alias: g25p}
      - {name: "gemini-2.5-flash(low)", alias: fast}
"""))
    cred = registry.credentials[0].id
    assert registry.upstream_model(cred, "team/g25p") == "gemini-2.5-pro-exp-03-25"
    assert registry.upstream_model(cred, "g25p(8192)") == "gemini-2.5-pro-exp-03-25(8192)"
    # A suffix written in the config wins over the request's.
    assert registry.upstream_model(cred, "fast(high)") == "gemini-2.5-flash(low)"
    assert registry.upstream_model(cred, "unknown") == "unknown"
    assert registry.upstream_model("no-such-credential", "g25p") == "g25p"


def test_api_keys_send_the_model_trimmed_with_or_without_listed_models() -> None:
    registry = build_registry(cfg("""
claude-api-key:
  - api-key: k1
gemini-api-key:
  - api-key: k2
    models:
      - {name: gemini-2.5-pro, alias: pro}
"""))
    gemini, claude = (c.id for c in registry.credentials)
    assert registry.upstream_model(claude, "  claude-sonnet-4-5-20250929\t") == "claude-sonnet-4-5-20250929"
    assert registry.upstream_model(claude, " claude-sonnet-4-5-20250929(1024)") == "claude-sonnet-4-5-20250929(1024)"
    assert registry.upstream_model(gemini, " pro ") == "gemini-2.5-pro"
    assert registry.upstream_model(gemini, " gemini-2.5-flash ") == "gemini-2.5-flash"


def test_api_key_alias_table_comes_before_the_list_scan() -> None:
    """conductor.go:201-239 and 317-360: the per-key table also answers for a listed name's base,
    so a variant with its own suffix stands for the plain model, the config's suffix winning."""
    registry = build_registry(cfg("""
codex-api-key:
  - api-key: k1
    base-url: https://c
    models:
      - {name: gpt-5}
      - {name: "gpt-5(high)", alias: gpt-5-high}
      - {name: gpt-5-mini, alias: small}
      - {name: gpt-5-nano, alias: SMALL}
      - {name: o3}
"""))
    cred = registry.credentials[0].id
    assert registry.upstream_model(cred, "gpt-5") == "gpt-5(high)"
    assert registry.upstream_model(cred, "gpt-5(low)") == "gpt-5(high)"
    assert registry.upstream_model(cred, "gpt-5-high") == "gpt-5(high)"
    # The first entry keeps an alias key; the scan would have found the same one.
    assert registry.upstream_model(cred, "small(8)") == "gpt-5-mini(8)"
    # An entry without an alias is not in the table: the scan still finds it by name.
    assert registry.upstream_model(cred, "O3(high)") == "o3(high)"


@pytest.mark.parametrize(("section", "base", "catalogue"), [
    ("claude-api-key", "", CLAUDE),
    ("codex-api-key", "https://c", CODEX),
])
def test_a_repeated_key_and_base_takes_the_first_entrys_models_and_exclusions(
        section: str, base: str, catalogue: tuple[ModelInfo, ...]) -> None:
    """service.go:740-760 (``resolveConfigClaudeKey``/``resolveConfigCodexKey``, :865-988) and
    conductor.go:966-1003: a credential finds its config entry by key and base, case-insensitively,
    and the first such entry wins. A later entry repeating them keeps its own prefix, but lists
    and routes by the first entry's ``models:`` and ``excluded-models:``."""
    base_line = f"    base-url: {base}\n" if base else ""
    upper_base_line = base_line.upper().replace("BASE-URL", "base-url")
    registry = build_registry(cfg(f"""
{section}:
  - api-key: k1
{base_line}    prefix: a
    models:
      - {{name: up-one, alias: one}}
      - {{name: up-x, alias: x}}
    excluded-models: ["x"]
  - api-key: K1
{upper_base_line}    prefix: b
    models:
      - {{name: up-two, alias: two}}
  - api-key: k1
{base_line}    prefix: c
  - api-key: k2
{base_line}    prefix: d
"""))
    first, second, third, other = registry.credentials
    assert [[m.id for m in c.models] for c in (first, second, third)] == [
        ["one", "a/one"], ["one", "b/one"], ["one", "c/one"]]
    assert [m.id for m in other.models] == [i for m in catalogue for i in (m.id, f"d/{m.id}")]
    assert registry.upstream_model(second.id, "b/one") == "up-one"
    assert registry.upstream_model(second.id, "two") == "two"
    assert registry.upstream_model(third.id, "c/one") == "up-one"


def test_supports_is_case_insensitive() -> None:
    registry = build_registry(cfg("codex-api-key:\n  - api-key: k1\n    base-url: https://c\n"))
    cred = registry.credentials[0].id
    assert registry.supports(cred, "GPT-5")
    assert not registry.supports(cred, "claude-3-5-haiku-20241022")
    assert not registry.supports("other", "gpt-5")


@pytest.mark.parametrize(("model", "expected"), [
    ("gemini-2.5-pro(8192)", ("gemini-2.5-pro", "8192")),
    ("gpt-5(high)", ("gpt-5", "high")),
    ("gpt-5", ("gpt-5", None)),
    ("a(b)(c)", ("a(b)", "c")),
    ("a(b", ("a(b", None)),
    ("a()", ("a", "")),
])
def test_split_thinking_suffix(model: str, expected: tuple[str, str | None]) -> None:
    assert tuple(split_thinking_suffix(model)) == expected


def test_resolve_suffix_auto_and_unknown() -> None:
    registry = build_registry(cfg("""
gemini-api-key:
  - api-key: g
claude-api-key:
  - api-key: c
openai-compatibility:
  - name: custom
    base-url: https://x
    models: [{name: "my-model(8192)"}]
"""), now=1)
    assert registry.resolve("gemini-2.5-pro(8192)") == (["gemini"], "gemini-2.5-pro(8192)")
    assert registry.resolve("claude-sonnet-4-5-20250929(auto)") == (["claude"], "claude-sonnet-4-5-20250929(auto)")
    assert registry.resolve("my-model(8192)") == (["custom"], "my-model(8192)")
    newest = max(GEMINI + CLAUDE, key=lambda m: m.created)
    assert registry.resolve("auto") == ([newest.type], newest.id)
    assert registry.resolve("auto(high)") == ([newest.type], f"{newest.id}(high)")
    for bad in ("unknown-model(8192)", "", "Gemini-2.5-pro"):
        with pytest.raises(UnknownModelError) as err:
            registry.resolve(bad)
        assert err.value.requested == bad


def test_created_survives_rebuild_of_unchanged_credentials() -> None:
    text = "claude-api-key:\n  - api-key: c1\n    models: [{name: x, alias: a}]\n"
    first = build_registry(cfg(text), now=100)
    same = build_registry(cfg(text + "debug: true\n"), previous=first, now=200)
    assert same.get("a").created == 100  # type: ignore[union-attr]
    changed = build_registry(cfg(text.replace("alias: a", "alias: b")), previous=same, now=300)
    assert changed.get("b").created == 300  # type: ignore[union-attr]


CLAUDE_ALIAS = """claude-api-key:
  - api-key: c1
    base-url: https://up.example
    models: [{name: claude-opus-4-5-20251101, alias: opus}, {name: claude-haiku-4-5-20251001, alias: haiku}]
    excluded-models: ["a*", "b*"]
openai-compatibility:
  - name: Local
    base-url: https://local.example
    api-key-entries: [{api-key: k1}]
    models: [{name: llama, alias: m1}]
"""


@pytest.mark.parametrize("extra", [
    # Each changes the auth the synthesizer makes (synthesizer/config.go:94-129) without changing
    # its ID, so the watcher sends a Modify (dispatcher.go:117-121) and the key registers again.
    "    headers: {X-Team: a}\n",
    "    priority: 3\n",
    "    proxy-url: http://127.0.0.1:3128\n",
])
def test_created_restarts_when_a_key_entry_changes_outside_its_models(extra: str) -> None:
    first = build_registry(cfg(CLAUDE_ALIAS), now=100)
    text = CLAUDE_ALIAS.replace("    excluded-models", extra + "    excluded-models", 1)
    again = build_registry(cfg(text), previous=first, now=200)
    assert again.get("opus").created == 200  # type: ignore[union-attr]
    assert again.get("m1").created == 100  # type: ignore[union-attr]


@pytest.mark.parametrize("extra", ["    headers: {X-Team: a}\n", "    priority: 3\n"])
def test_created_restarts_when_a_compat_entry_changes_outside_its_models(extra: str) -> None:
    """synthesizer/config.go:185-262: priority and headers are attributes of each compat auth."""
    first = build_registry(cfg(CLAUDE_ALIAS), now=100)
    text = CLAUDE_ALIAS.replace("    models: [{name: llama", extra + "    models: [{name: llama", 1)
    again = build_registry(cfg(text), previous=first, now=200)
    assert again.get("m1").created == 200  # type: ignore[union-attr]
    assert again.get("opus").created == 100  # type: ignore[union-attr]


def test_created_restarts_for_every_credential_when_oauth_model_alias_changes() -> None:
    """config_reload.go:130: a changed ``oauth-model-alias`` (any channel) or ``force-model-prefix``
    refreshes every auth, API keys included."""
    first = build_registry(cfg(CLAUDE_ALIAS), now=100)
    text = CLAUDE_ALIAS + "oauth-model-alias:\n  qwen: [{name: qwen3-coder-plus, alias: qcp}]\n"
    again = build_registry(cfg(text), previous=first, now=200)
    assert [again.get(i).created for i in ("opus", "m1")] == [200, 200]  # type: ignore[union-attr]
    same = build_registry(cfg(text), previous=again, now=300)
    assert [same.get(i).created for i in ("opus", "m1")] == [200, 200]  # type: ignore[union-attr]


def test_created_survives_edits_the_legacys_hashes_do_not_see() -> None:
    """``models_hash`` and ``excluded_models_hash`` (diff/model_hash.go) are order- and
    case-blind, so reordering the lists or re-casing an exclusion leaves the auth equal and
    unregistered again."""
    first = build_registry(cfg(CLAUDE_ALIAS), now=100)
    text = (CLAUDE_ALIAS
            .replace("[{name: claude-opus-4-5-20251101, alias: opus}, {name: claude-haiku-4-5-20251001, alias: haiku}]",
                     "[{name: claude-haiku-4-5-20251001, alias: haiku}, {name: claude-opus-4-5-20251101, alias: opus}]")
            .replace('["a*", "b*"]', '["B*", "a*", "a*"]'))
    again = build_registry(cfg(text), previous=first, now=200)
    assert again.get("opus").created == 100  # type: ignore[union-attr]


async def test_live_registry_follows_config_store(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("claude-api-key:\n  - api-key: c1\n")
    store = ConfigStore(path)
    live = registry_for(store)
    assert registry_for(store) is live
    assert ids(live.current) == [m.id for m in CLAUDE]
    await store.save(store.current.model_copy(update={"claude_api_key": [], "codex_api_key": []}))
    assert live.current.available() == []
    live.set_credentials(lambda: [("qwen", "", None)])
    assert ids(live.current) == ["qwen3-coder-plus", "qwen3-coder-flash", "vision-model"]


def test_live_registry_without_records() -> None:
    store = ConfigStore(None)
    live = LiveModelRegistry(store)
    assert live.current.available() == []
    live.refresh()
    assert live.current.available() == []
