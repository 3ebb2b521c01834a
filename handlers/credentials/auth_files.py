"""``/v0/management/auth-files``: list, models, download, upload, delete and the status switch,
and ``/v0/management/vertex/import``, answered from the gateway's own credential services
(``internal/api/handlers/management/auth_files.go``, ``vertex_import.go``).

The list is built as ``buildAuthFileEntry`` builds it from the legacy's auth manager: one entry per
credential file, and for a Gemini CLI file with several projects the file itself (disabled) plus
one runtime-only entry per project. ``status``, ``unavailable`` and ``status_message`` (the last
failure's error text, the upstream body) come from the rotation state as the legacy's
``MarkResult`` sets them.
"""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from handlers.auth.credential import CredentialError, parse_credential, validate_file_name
from handlers.auth.stores import StoreConflict, StoreError
from handlers.auth.stores.file_store import FileTokenStore
from handlers.inference.runtime import INFERENCE
from handlers.logins.vertex_import import ServiceAccountError, parse_service_account, vertex_credential
from handlers.usage.statistics import Timestamp
from handlers.wsrelay.manager import RELAY, RelayCredential
from quotio_gateway.goquery import query_value
from quotio_gateway.management.auth import guarded
from quotio_gateway.management.responses import (
    Field,
    GoJSONError,
    Struct,
    as_bool,
    as_str,
    decode_body,
    error_response,
    gin_h,
    json_response,
)
from quotio_gateway.native import NativeRegistry

from .api_call import api_call
from .views import AuthEntry, auth_entries, is_disabled
from .wiring import CREDENTIALS, CredentialServices

PREFIX = "/v0/management"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _go_time(ns: int) -> str:
    """A ``time.Time`` as Go marshals it, in local time. Integer nanoseconds, never a float: a
    float epoch (``st_mtime``, ``datetime.timestamp()``) has no room for nanoseconds, so a
    last_refresh of ``...20.123`` came out as ``...20.122999808``."""
    return Timestamp.local(ns).rfc3339_nano()


def _datetime_ns(moment: datetime) -> int:
    """Exact epoch nanoseconds of an aware datetime (microsecond resolution, as Python keeps it)."""
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1_000


def _standing(request: web.Request, credential_id: str) -> tuple[str, bool, str]:
    """``(status, unavailable, status_message)`` from the rotation state, as ``MarkResult`` leaves
    the auth: an error while any model holds one, the aggregate ``Unavailable`` flag as of the
    credential's last result, and the last failure's error text (the upstream body) while it is
    in error."""
    runtime = request.app.get(INFERENCE)
    if runtime is None:
        return "active", False, ""
    state = runtime.state
    models = state.models_of(credential_id)
    if not any((s := state.get(credential_id, model)) is not None and s.status == "error" for model in models):
        return "active", False, ""
    return "error", state.unavailable(credential_id), state.message_of(credential_id)


def _codex_claims(metadata: dict[str, Any]) -> dict[str, Any] | None:
    token = metadata.get("id_token")
    if not isinstance(token, str) or not token.strip():
        return None
    parts = token.strip().split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    info = claims.get("https://api.openai.com/auth") if isinstance(claims, dict) else None
    if not isinstance(info, dict):
        return None
    out: dict[str, Any] = {}
    for key, name in (("chatgpt_account_id", "chatgpt_account_id"), ("chatgpt_plan_type", "plan_type")):
        value = info.get(key)
        if isinstance(value, str) and value.strip():
            out[name] = value.strip()
    for key in ("chatgpt_subscription_active_start", "chatgpt_subscription_active_until"):
        if info.get(key) is not None:
            out[key] = info[key]
    return gin_h(**out) if out else None


def _entry(request: web.Request, auth: AuthEntry, path: Path | None, *, label: str,
           disabled: bool) -> dict[str, Any]:
    credential, project = auth.credential, auth.project
    meta = credential.metadata
    status, unavailable, message = ("disabled", False, "") if disabled else _standing(request, auth.id)
    entry: dict[str, Any] = {
        "id": auth.id, "auth_index": auth.auth_index, "name": auth.id, "type": credential.provider,
        "provider": credential.provider, "label": label, "status": status, "status_message": message,
        "disabled": disabled, "unavailable": unavailable, "runtime_only": bool(project), "source": "memory",
        "size": 0,
    }
    email = meta.get("email")
    if isinstance(email, str) and email.strip():
        entry["email"] = email.strip()
        account = email.strip()
        if credential.provider == "gemini-cli":
            # AccountInfo: the email and the file's project_id as written ("p1,p2" for the file
            # itself; a project's entry carries its own, as its metadata copy does).
            raw = meta.get("project_id")
            shown = project or (raw.strip() if isinstance(raw, str) else "")
            if shown:
                account = f"{account} ({shown})"
        entry["account_type"], entry["account"] = "oauth", account
    if credential.last_refresh is not None:
        entry["last_refresh"] = _go_time(_datetime_ns(credential.last_refresh))
    if path is not None:
        entry["path"] = str(path)
        try:
            stat = path.stat()
        except OSError:
            pass
        else:
            entry["source"], entry["size"] = "file", stat.st_size
            entry["created_at"] = entry["updated_at"] = entry["modtime"] = _go_time(stat.st_mtime_ns)
    if credential.provider == "codex" and (claims := _codex_claims(meta)) is not None:
        entry["id_token"] = claims
    return gin_h(**entry)


def _entries(request: web.Request, services: CredentialServices) -> list[dict[str, Any]]:
    store = services.store
    out: list[dict[str, Any]] = []
    for credential in services.runtime.files():
        path = store.path_for(credential.file_name) if isinstance(store, FileTokenStore) else None
        disabled = is_disabled(credential.metadata)
        file_entry, *projects = auth_entries(credential)
        # A file with several projects stands for them: itself disabled, one runtime-only entry
        # each, and those are hidden while the file is disabled.
        out.append(_entry(request, file_entry, path, label=credential.label, disabled=disabled or bool(projects)))
        if not disabled:
            out += [_entry(request, project, path, label=f"{credential.label} [{project.project}]", disabled=False)
                    for project in projects]
    relay = request.app.get(RELAY)
    if relay is not None:
        out += [_relay_entry(request, credential) for credential in relay.credentials()]
    out.sort(key=lambda e: e["name"].lower())
    return out


def _relay_entry(request: web.Request, credential: RelayCredential) -> dict[str, Any]:
    """A /v1/ws channel: the runtime-only auth ``wsOnConnected`` registers (no file, no path)."""
    status, unavailable, message = _standing(request, credential.id)
    when = _go_time(credential.connected_ns)
    return gin_h(id=credential.id, auth_index=credential.auth_index, name=credential.id, type=credential.provider,
                 provider=credential.provider, label=credential.label, status=status, status_message=message,
                 disabled=False, unavailable=unavailable, runtime_only=True, source="memory", size=0,
                 email=credential.id, account_type="oauth", account=credential.id, created_at=when,
                 modtime=when, updated_at=when)


async def list_auth_files(request: web.Request) -> web.StreamResponse:
    services = request.app.get(CREDENTIALS)
    if services is None:
        return error_response(503, "core auth manager unavailable")
    return json_response(200, {"files": _entries(request, services)})


async def auth_file_models(request: web.Request) -> web.StreamResponse:
    name = query_value(request, "name")
    if not name:
        return error_response(400, "name is required")
    runtime = request.app.get(INFERENCE)
    registered = runtime.registry.current.credential(name) if runtime is not None else None
    models = []
    for model in registered.models if registered is not None else ():
        entry: dict[str, Any] = {"id": model.id}
        if model.display_name:
            entry["display_name"] = model.display_name
        if model.type:
            entry["type"] = model.type
        if model.owned_by:
            entry["owned_by"] = model.owned_by
        models.append(gin_h(**entry))
    return json_response(200, {"models": models})


def _credential_name(name: str) -> bool:
    """Whether the token store can hold a file of this name (it raises ValueError otherwise)."""
    try:
        validate_file_name(name)
    except ValueError:
        return False
    return True


def _checked_name(name: str) -> web.Response | None:
    if not name or os.sep in name:
        return error_response(400, "invalid name")
    if not name.lower().endswith(".json"):
        return error_response(400, "name must end with .json")
    return None


async def download_auth_file(request: web.Request) -> web.StreamResponse:
    name = query_value(request, "name")
    if (refused := _checked_name(name)) is not None:
        return refused
    services = request.app.get(CREDENTIALS)
    if services is None:
        return error_response(503, "core auth manager unavailable")
    store = services.store
    if not isinstance(store, FileTokenStore):
        credential = await store.get(name)
        if credential is None:
            return error_response(404, "file not found")
        data = credential.to_bytes()
    else:
        try:
            data = (store.auth_dir / name).read_bytes()
        except FileNotFoundError:
            return error_response(404, "file not found")
        except OSError as exc:
            return error_response(500, f"failed to read file: {exc.strerror}")
    return web.Response(body=data, headers={"Content-Type": "application/json",
                                            "Content-Disposition": f'attachment; filename="{name}"'})


async def _save(services: CredentialServices, name: str, data: bytes) -> web.Response:
    try:
        credential = parse_credential(name, data)
    except CredentialError as exc:
        return error_response(500, f"invalid auth file: {exc.detail}")
    except ValueError as exc:  # a name the store refuses (hidden file, padded)
        return error_response(400, str(exc))
    try:
        await services.notifying().save(credential)
    except (StoreError, ValueError, OSError) as exc:
        return error_response(500, f"failed to write file: {exc}")
    return json_response(200, {"status": "ok"})


async def upload_auth_file(request: web.Request) -> web.StreamResponse:
    services = request.app.get(CREDENTIALS)
    if services is None:
        return error_response(503, "core auth manager unavailable")
    if request.content_type.startswith("multipart/"):
        try:
            form = await request.post()
        except ValueError:
            form = None
        upload = form.get("file") if form is not None else None
        if isinstance(upload, web.FileField):
            name = os.path.basename(upload.filename or "")
            if not name.lower().endswith(".json"):
                return error_response(400, "file must be .json")
            return await _save(services, name, upload.file.read())
    name = query_value(request, "name")
    if (refused := _checked_name(name)) is not None:
        return refused
    try:
        data = await request.read()
    except (ConnectionError, web.HTTPException):
        return error_response(400, "failed to read body")
    return await _save(services, os.path.basename(name), data)


async def delete_auth_files(request: web.Request) -> web.StreamResponse:
    services = request.app.get(CREDENTIALS)
    if services is None:
        return error_response(503, "core auth manager unavailable")
    if query_value(request, "all") in ("true", "1", "*"):
        # Every top-level *.json of the auth-dir, loaded or not, as the legacy removes them.
        store = services.store
        if isinstance(store, FileTokenStore):
            try:
                # Dot files are the gateway's own (temporary writes) and never credentials here.
                names = [n for n in os.listdir(store.auth_dir) if _credential_name(n)
                         and not (store.auth_dir / n).is_dir()]
            except OSError as exc:
                return error_response(500, f"failed to read auth dir: {exc.strerror}")
        else:
            names = [c.file_name for c in services.runtime.files()]
        deleted = 0
        notifying = services.notifying()
        for name in names:
            try:
                if await notifying.delete(name):
                    deleted += 1
            except StoreError as exc:
                return error_response(500, str(exc))
        return json_response(200, gin_h(status="ok", deleted=deleted))
    name = query_value(request, "name")
    if not name or os.sep in name:
        return error_response(400, "invalid name")
    name = os.path.basename(name)
    if not _credential_name(name):
        # No credential file can have this name (not *.json, a dot file, or a Gemini project's
        # runtime-only "file::project" id): the legacy's os.Remove finds no such file, 404.
        return error_response(404, "file not found")
    try:
        removed = await services.notifying().delete(name)
    except StoreError as exc:
        return error_response(500, f"failed to remove file: {exc}")
    if not removed:
        return error_response(404, "file not found")
    return json_response(200, {"status": "ok"})


_STATUS_BODY = Struct(Field("name", as_str), Field("disabled", as_bool, nilable=True))
# A refresh may save the same file between our read and our write; read again and retry.
_STATUS_ATTEMPTS = 3


async def patch_auth_file_status(request: web.Request) -> web.StreamResponse:
    """``PATCH /auth-files/status`` ``{"name", "disabled"}``: the Quotio app's account switch.

    CLIProxyAPI v6.7.15 has no such route; this is v6.8's handler (the first version whose file
    store keeps the switch): ``disabled`` is written into the credential file, so the runtime drops
    or takes back the credential at once and the choice survives a restart.
    """
    services = request.app.get(CREDENTIALS)
    if services is None:
        return error_response(503, "core auth manager unavailable")
    try:
        body = decode_body(await request.read(), _STATUS_BODY, whole=False) or {}
    except GoJSONError:
        return error_response(400, "invalid request body")
    name = str(body.get("name", "")).strip()
    if not name:
        return error_response(400, "name is required")
    disabled = body.get("disabled")
    if disabled is None:
        return error_response(400, "disabled is required")
    # A Gemini project's runtime-only entry ("file::project") has no file of its own to switch.
    if not _credential_name(name):
        return error_response(404, "auth file not found")
    store = services.notifying()
    for attempt in range(_STATUS_ATTEMPTS):
        try:
            credential = await store.get(name)
            if credential is None:
                return error_response(404, "auth file not found")
            # The app re-sends its disabled accounts after every start; an unchanged file is left
            # alone (as v6.8's store skips equal metadata), so its mtime means a real change.
            if credential.metadata.get("disabled") is disabled:
                break
            await store.save(credential.with_metadata(disabled=disabled), if_revision=credential.revision)
            break
        except StoreConflict:
            if attempt == _STATUS_ATTEMPTS - 1:
                return error_response(500, f"failed to update auth: {name} changed while being updated")
        except (StoreError, ValueError, OSError) as exc:
            return error_response(500, f"failed to update auth: {exc}")
    return json_response(200, gin_h(status="ok", disabled=disabled))


async def _vertex_key(request: web.Request) -> tuple[bytes | None, str]:
    """The uploaded key and the form's ``location``. The legacy takes only the multipart ``file``;
    the Quotio app posts the key itself as an ``application/json`` body, so that is taken too."""
    if request.content_type == "application/json":
        return (await request.read()) or None, ""
    if not request.content_type.startswith("multipart/"):
        return None, ""
    try:
        form = await request.post()
    except ValueError:
        return None, ""
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        return None, ""
    return upload.file.read(), str(form.get("location") or "")


async def import_vertex(request: web.Request) -> web.StreamResponse:
    """A service-account key uploaded as the multipart ``file`` (or the raw JSON body), saved as
    ``vertex-<project>.json``."""
    services = request.app.get(CREDENTIALS)
    if services is None:
        return error_response(503, "config unavailable")
    key, form_location = await _vertex_key(request)
    if key is None:
        return error_response(400, "file required")
    try:
        service_account = parse_service_account(key)
    except ServiceAccountError as exc:
        if exc.error == "project_id missing":
            return error_response(400, exc.error)
        return json_response(400, gin_h(error=exc.error, message=str(exc)))
    location = form_location.strip() or query_value(request, "location").strip()
    try:
        saved = await services.notifying().save(vertex_credential(service_account, location))
    except (StoreError, ValueError, OSError) as exc:
        return json_response(500, gin_h(error="save_failed", message=str(exc)))
    store = services.store
    path = str(store.path_for(saved.file_name)) if isinstance(store, FileTokenStore) else saved.file_name
    meta = saved.metadata
    return json_response(200, gin_h(**{"status": "ok", "auth-file": path, "project_id": meta["project_id"],
                                       "email": meta["email"], "location": meta["location"]}))


def setup_auth_file_routes(registry: NativeRegistry) -> None:
    registry.add("GET", f"{PREFIX}/auth-files", guarded(list_auth_files))
    registry.add("GET", f"{PREFIX}/auth-files/models", guarded(auth_file_models))
    registry.add("GET", f"{PREFIX}/auth-files/download", guarded(download_auth_file))
    registry.add("POST", f"{PREFIX}/auth-files", guarded(upload_auth_file))
    registry.add("DELETE", f"{PREFIX}/auth-files", guarded(delete_auth_files))
    registry.add("PATCH", f"{PREFIX}/auth-files/status", guarded(patch_auth_file_status))
    registry.add("POST", f"{PREFIX}/vertex/import", guarded(import_vertex))
    registry.add("POST", f"{PREFIX}/api-call", guarded(api_call))

