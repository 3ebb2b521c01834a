"""Building OAuthCredential views from credential files (views.py)."""

from __future__ import annotations

from handlers.auth.credential import new_credential
from handlers.credentials.views import build_views, gemini_projects, is_disabled, virtual_id
from handlers.providers.oauth_base import StaticToken


def views(name: str, meta: dict, base: str = ""):
    return build_views(new_credential(name, meta), lambda cred: StaticToken("t"), base_url=lambda provider: base)


def test_gemini_multi_project_file_splits_into_virtual_credentials() -> None:
    out = views("gemini-a@b.com-all.json", {"type": "gemini", "email": "a@b.com",
                                            "project_id": " p1, p2 ,p1,, my proj"})
    assert [(v.id, v.provider, v.project_id, v.label) for v in out] == [
        ("gemini-a@b.com-all.json::p1", "gemini-cli", "p1", "a@b.com [p1]"),
        ("gemini-a@b.com-all.json::p2", "gemini-cli", "p2", "a@b.com [p2]"),
        ("gemini-a@b.com-all.json::my_proj", "gemini-cli", "my proj", "a@b.com [my proj]"),
    ]
    single = views("a@b.com-p1.json", {"type": "gemini", "project_id": "p1"})
    assert [(v.id, v.project_id) for v in single] == [("a@b.com-p1.json", "p1")]
    assert gemini_projects({"project_id": 3}) == []
    assert virtual_id("f.json", "  ") == "f.json::project"


def test_provider_fields_and_common_fields() -> None:
    codex = views("codex-a.json", {"type": "codex", "account_id": "acc", "email": "a@x", "proxy_url": "http://p:1",
                                   "prefix": "/team/", "priority": "5", "disabled": "true"})[0]
    assert (codex.account_id, codex.email, codex.proxy_url, codex.prefix, codex.priority, codex.disabled) == (
        "acc", "a@x", "http://p:1", "team", 0, True)  # a file's priority is not read (see below)
    qwen = views("qwen-a.json", {"type": "qwen", "resource_url": "portal.qwen.ai"})[0]
    assert qwen.resource_url == "portal.qwen.ai"
    vertex = views("vertex-p.json", {"type": "vertex", "project": "p", "location": "europe-west4"},
                   base="https://{location}-aiplatform.example.test")[0]
    assert (vertex.project_id, vertex.location, vertex.base_url) == ("p", "europe-west4",
                                                                     "https://europe-west4-aiplatform.example.test")


def test_file_base_url_only_where_the_legacy_reads_it() -> None:
    assert views("iflow-a.json", {"type": "iflow", "base_url": "http://relay/v1"}, base="http://cfg")[0].base_url == \
        "http://relay/v1"
    assert views("claude-a.json", {"type": "claude", "base_url": "http://relay"}, base="http://cfg")[0].base_url == \
        "http://cfg"
    assert views("claude-b.json", {"type": "claude"})[0].base_url == ""


def test_aistudio_has_no_native_executor() -> None:
    assert views("aistudio-a.json", {"type": "aistudio"}) == []


def test_flag_parsers() -> None:
    assert [is_disabled({"disabled": v}) for v in (True, "TRUE", "false", 1, None)] == [True, True, False, False, False]


def test_a_files_priority_is_not_read() -> None:
    # The legacy's selector reads priority from auth attributes, which only config entries set.
    (view,) = views("codex-a@b.com.json", {"type": "codex", "email": "a@b.com", "priority": 7})
    assert view.priority == 0
