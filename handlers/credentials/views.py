"""From a loaded credential file to the ``OAuthCredential`` views executors use (pure).

One file gives one view, except a Gemini CLI file whose ``project_id`` lists several projects:
like CLIProxyAPI's synthesizer it gives one view per project (id ``<file>::<project>``, label
``<email> [<project>]``) sharing the file's token, and the file itself serves nothing.

Fields read, per provider (legacy executors at 9b72ea9ef, CLIProxyAPIPlus for Copilot/Kiro):

* every file: ``email``, ``proxy_url``, ``prefix``, ``disabled`` (true or "true"), ``priority``
  (integer, higher wins in selection; default 0);
* gemini-cli / antigravity: ``project_id``; codex: ``account_id``; qwen: ``resource_url``;
  vertex: ``project_id`` (or ``project``), ``location``;
* ``base_url`` in the file is honoured where the legacy reads it (antigravity, iflow); otherwise
  the base URL comes from the configured provider endpoints.

The id of a file credential is its file name, as CLIProxyAPI uses the path relative to the
auth-dir; that id is also what the model registry registers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from handlers.auth.credential import Credential, stable_index
from handlers.providers.oauth_base import OAuthCredential, TokenSource

# Providers with a native executor. ``aistudio`` is a websocket relay: nothing to call natively.
SERVABLE = frozenset({"gemini-cli", "antigravity", "claude", "codex", "qwen", "iflow", "github-copilot",
                      "kiro", "vertex"})
# Providers whose file may carry a ``base_url`` that replaces the default (legacy reads metadata).
FILE_BASE_URL = frozenset({"antigravity", "iflow"})


def _text(metadata: dict[str, Any], *keys: str) -> str:
    for key in keys:
        value = metadata.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def is_disabled(metadata: dict[str, Any]) -> bool:
    value = metadata.get("disabled")
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return value is True


def gemini_projects(metadata: dict[str, Any]) -> list[str]:
    """``splitGeminiProjectIDs``: the comma list, trimmed, blanks and repeats dropped."""
    raw = metadata.get("project_id")
    if not isinstance(raw, str):
        return []
    seen: list[str] = []
    for part in raw.split(","):
        part = part.strip()
        if part and part not in seen:
            seen.append(part)
    return seen


def virtual_id(file_id: str, project: str) -> str:
    cleaned = project.strip() or "project"
    for char in ("/", "\\", " "):
        cleaned = cleaned.replace(char, "_")
    return f"{file_id}::{cleaned}"


def view_auth_index(view_id: str) -> str:
    """``EnsureIndex`` of a view: its file's (``file:`` + name), or, for a project of a
    multi-project file, which has no file name of its own, ``id:`` + its id."""
    return stable_index(("id:" if "::" in view_id else "file:") + view_id.strip())


@dataclass(frozen=True, slots=True)
class AuthEntry:
    """One auth the legacy's manager holds for a file: the file itself, or (``project`` set, a
    runtime-only auth) one project of a multi-project Gemini CLI file."""

    credential: Credential
    id: str
    project: str = ""

    @property
    def auth_index(self) -> str:
        return view_auth_index(self.id)


def auth_entries(credential: Credential) -> list[AuthEntry]:
    """The file, then for a Gemini CLI file with several projects one entry per project (the
    synthesizer's primary and virtual auths)."""
    entries = [AuthEntry(credential, credential.file_name)]
    if credential.provider == "gemini-cli":
        projects = gemini_projects(credential.metadata)
        if len(projects) > 1:
            entries += [AuthEntry(credential, virtual_id(credential.file_name, p), p) for p in projects]
    return entries


def build_views(credential: Credential, tokens: Callable[[Credential], TokenSource], *,
                base_url: Callable[[str], str],
                fallback_urls: Callable[[str], tuple[str, ...]] = lambda _provider: ()) -> list[OAuthCredential]:
    """The views of one file (empty when its provider has no native executor).

    ``tokens`` makes the token source for the file; ``base_url(provider)`` is the configured
    inference base override ("" when none) and ``fallback_urls(provider)`` what is configured to
    follow it.
    """
    provider = credential.provider
    if provider not in SERVABLE:
        return []
    meta = credential.metadata
    configured = base_url(provider)
    if provider == "vertex" and "{location}" in configured:
        # The endpoint table writes the regional Vertex host as a template.
        configured = configured.replace("{location}", _text(meta, "location") or "us-central1")
    file_base = _text(meta, "base_url") if provider in FILE_BASE_URL else ""
    common: dict[str, Any] = {
        "provider": provider,
        "tokens": tokens(credential),
        "label": credential.label,
        "email": credential.email,
        "proxy_url": credential.proxy_url,
        "prefix": credential.prefix,
        # A file's own ``priority`` is not read: the legacy takes priority from the auth's
        # attributes, which only config entries set (selector.go:107-120), so every file is 0.
        "priority": 0,
        "disabled": is_disabled(meta),
        "metadata": MappingProxyType(meta),
        "base_url": file_base or configured,
        # Kiro's configured Amazon Q URL stands on its own, with or without a base override.
        "fallback_urls": () if file_base or not (configured or provider == "kiro") else fallback_urls(provider),
        "account_id": _text(meta, "account_id"),
        "resource_url": _text(meta, "resource_url"),
        "location": _text(meta, "location"),
    }
    if provider == "gemini-cli":
        projects = gemini_projects(meta)
        if len(projects) > 1:
            label = credential.label
            return [OAuthCredential(**{**common, "id": virtual_id(credential.file_name, project),
                                       "label": f"{label} [{project}]", "project_id": project})
                    for project in projects]
        return [OAuthCredential(id=credential.file_name, project_id=projects[0] if projects else "", **common)]
    # Only Vertex falls back to ``project`` (gemini_vertex_executor.go:944-945); Antigravity reads
    # ``project_id`` alone (antigravity_executor.go:1196-1201) and sends a made-up project without it.
    if provider == "vertex":
        project = _text(meta, "project_id", "project")
    else:
        project = _text(meta, "project_id") if provider == "antigravity" else ""
    return [OAuthCredential(id=credential.file_name, project_id=project, **common)]
