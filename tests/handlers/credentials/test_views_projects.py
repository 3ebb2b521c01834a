"""Which file field names the project an executor sends.

The legacy's Antigravity executor reads ``project_id`` only (antigravity_executor.go:1196-1201)
and puts a made-up ``<adj>-<noun>-<hex>`` project in the envelope without it; only the Vertex
executor also accepts a bare ``project`` (gemini_vertex_executor.go:944-945).
"""

from __future__ import annotations

from typing import Any

from handlers.auth.credential import new_credential
from handlers.credentials.views import build_views
from handlers.providers.oauth_base import OAuthCredential, StaticToken


def one_view(file_name: str, meta: dict[str, Any]) -> OAuthCredential:
    credential = new_credential(file_name, meta)
    [view] = build_views(credential, lambda _c: StaticToken("t"), base_url=lambda _p: "")
    return view


def test_antigravity_ignores_a_bare_project_field() -> None:
    assert one_view("antigravity-a.json", {"type": "antigravity", "project": "p"}).project_id == ""
    both = {"type": "antigravity", "project": "p", "project_id": " q "}
    assert one_view("antigravity-b.json", both).project_id == "q"


def test_vertex_still_falls_back_to_project() -> None:
    assert one_view("vertex-p.json", {"type": "vertex", "project": "p"}).project_id == "p"
