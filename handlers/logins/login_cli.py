"""``quotio-gateway login <provider>`` and CLIProxyAPI's login flags, run natively.

    quotio-gateway login claude [--no-browser] [--config PATH] [--callback-port N]
    quotio-gateway login gemini --project-id ID|ALL
    quotio-gateway login iflow-cookie [--cookie "BXAuth=..."]
    quotio-gateway login vertex --file service-account.json
    quotio-gateway -claude-login -no-browser -config PATH        (the legacy spelling)

Browser logins open the authorize URL (unless ``--no-browser``), listen on the provider's
callback port and wait up to five minutes. Device logins (Qwen, GitHub Copilot, Kiro) and the
Vertex import are the device-flow modules' own functions; this module only dispatches to them.
The credential goes to the store CLIProxyAPI would use (its ``PGSTORE_*`` / ``OBJECTSTORE_*`` /
``GITSTORE_*`` variables, else the config's ``auth-dir``).
"""

from __future__ import annotations

import asyncio
import os
import sys
import webbrowser
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import structlog

from handlers.auth.credential import Credential
from handlers.auth.stores import StoreError, TokenStore, store_from_env
from quotio_gateway.config.loader import ConfigError, default_config, parse_config
from quotio_gateway.config.models import DEFAULT_AUTH_DIR, Config

from .authcode import AuthCodeLogin, LoginFailed
from .browser_flow import DEFAULT_WAIT_SECONDS, complete_login
from .callback_server import CallbackServer, CallbackServerError
from .claude import ClaudeLogin
from .codex import CodexLogin
from .device_http import TokenEndpointError, token_call_session
from .device_poll import DeviceFlowError, LoginIO
from .endpoints import EndpointConfigError, IFlowEndpoints, ProviderEndpoints, endpoints_for
from .google import AntigravityLogin, GeminiCliLogin
from .iflow import CookieLoginError, IFlowLogin, cookie_login
from .sessions import LoginSessions

log = structlog.get_logger("handlers.logins.login_cli")

__all__ = [
    "BROWSER_LOGINS",
    "LEGACY_FLAG_MODES",
    "LOGIN_PROVIDERS",
    "LoginRequest",
    "login_request_from_go_flags",
    "main_login",
    "run_browser_login",
    "run_login",
]

BROWSER_LOGINS: dict[str, type[AuthCodeLogin]] = {
    "claude": ClaudeLogin,
    "codex": CodexLogin,
    "gemini-cli": GeminiCliLogin,
    "antigravity": AntigravityLogin,
    "iflow": IFlowLogin,
}
# Names accepted by ``login <provider>`` -> the login they run.
LOGIN_PROVIDERS = {
    "claude": "claude", "anthropic": "claude",
    "codex": "codex", "openai": "codex",
    "gemini": "gemini-cli", "gemini-cli": "gemini-cli",
    "antigravity": "antigravity",
    "iflow": "iflow", "iflow-cookie": "iflow-cookie",
    "qwen": "qwen",
    "github-copilot": "github-copilot", "copilot": "github-copilot",
    "kiro-google": "kiro-google", "kiro-github": "kiro-github", "kiro-aws": "kiro-aws",
    "vertex": "vertex",
}
# CLIProxyAPI flags -> the login they run. Flags missing here (-kiro-aws-authcode, -kiro-import)
# have no native implementation and still go to the legacy binary.
LEGACY_FLAG_MODES = {
    "login": "gemini-cli",
    "claude-login": "claude",
    "codex-login": "codex",
    "antigravity-login": "antigravity",
    "iflow-login": "iflow",
    "iflow-cookie": "iflow-cookie",
    "qwen-login": "qwen",
    "github-copilot-login": "github-copilot",
    "kiro-google-login": "kiro-google",
    "kiro-aws-login": "kiro-aws",
    "vertex-import": "vertex",
}

Prompt = Callable[[str], Awaitable[str]]


@dataclass
class LoginRequest:
    login: str
    config_path: Path | None = None
    no_browser: bool = False
    project_id: str = ""
    callback_port: int | None = None
    cookie: str = ""
    vertex_file: str = ""
    email: str = ""
    wait_seconds: float = DEFAULT_WAIT_SECONDS


def login_request_from_go_flags(flags: dict[str, str | bool]) -> LoginRequest | None:
    """The native login a parsed CLIProxyAPI flag set asks for; None when it must stay legacy."""
    modes = [LEGACY_FLAG_MODES[name] for name in flags if name in LEGACY_FLAG_MODES and flags[name]]
    if not modes:
        return None
    config = str(flags["config"]) if flags.get("config") else ""
    port = str(flags.get("oauth-callback-port") or "").strip()
    return LoginRequest(
        login=modes[0],
        config_path=Path(config) if config else Path.cwd() / "config.yaml",
        no_browser=bool(flags.get("no-browser")),
        project_id=str(flags.get("project_id") or ""),
        callback_port=int(port) if port.isdigit() else None,
        vertex_file=str(flags.get("vertex-import") or ""),
    )


def _load_config(path: Path | None) -> Config:
    if path is None or not path.exists():
        return default_config()
    # No persist: a login must not rewrite config.yaml (hashing the management key, migrations).
    return parse_config(path.read_bytes(), path, persist=False)


def _default_io(no_browser: bool) -> LoginIO:
    async def prompt(question: str) -> str:
        print(question, end=" ", flush=True)
        line = await asyncio.to_thread(sys.stdin.readline)
        return line.strip()

    def say(text: str) -> None:
        # Launchers read stdout through a pipe while the login waits (Quotio scrapes the device
        # code after `enter the code: `); a pipe makes Python buffer it until exit, Go never does.
        print(text, flush=True)

    return LoginIO(say=say, open_browser=webbrowser.open, no_browser=no_browser,
                   prompt=prompt if sys.stdin.isatty() else None)


async def run_browser_login(cls: type[AuthCodeLogin], http: aiohttp.ClientSession, endpoints: ProviderEndpoints,
                            store: TokenStore, io: LoginIO, *, port: int | None = None, host: str = "127.0.0.1",
                            wait_seconds: float = DEFAULT_WAIT_SECONDS, proxy: str = "",
                            **options: Any) -> Credential:
    """One browser login from the terminal: callback server, URL, bounded wait, save."""
    sessions = LoginSessions()
    iflow = endpoints if isinstance(endpoints, IFlowEndpoints) else None
    server = CallbackServer(sessions, cls.session_key, endpoints.callback_path,
                            endpoints.callback_port if port is None else port, host=host,
                            success_redirect=iflow.success_redirect_url if iflow else "",
                            error_redirect=iflow.error_redirect_url if iflow else "")
    try:
        bound = await server.start()
    except CallbackServerError as exc:
        raise LoginFailed("failed to start callback server",
                          f"{exc}; free the port or pick another with --callback-port") from None
    try:
        login = cls(http, endpoints, port=bound, proxy=proxy, **options)
        sessions.register(login.state, cls.session_key)
        io.show_url(login.authorize_url(), f"{login.title} authentication")
        io.say(f"Waiting up to {wait_seconds / 60:g} minutes for the browser to come back to {login.redirect_uri}")
        if io.no_browser:
            io.say(f"If the browser runs on another machine, forward the port first: "
                   f"ssh -L {bound}:127.0.0.1:{bound} <this host>")
        credential = await complete_login(login, sessions, store, wait_seconds=wait_seconds)
    finally:
        await server.stop()
    io.say(f"{login.title} authentication successful; saved {credential.file_name}")
    return credential


async def run_login(request: LoginRequest, io: LoginIO, *, store: TokenStore | None = None,
                    http: aiohttp.ClientSession | None = None) -> Credential:
    """Run ``request`` to the end; raises LoginFailed, DeviceFlowError, CookieLoginError, ValueError."""
    cfg = _load_config(request.config_path)
    own_store = store is None
    target = store or store_from_env(os.environ, cfg.auth_dir or DEFAULT_AUTH_DIR)
    own_http = http is None
    client = http or token_call_session()
    try:
        if own_store:
            await target.start()
        return await _dispatch(request, cfg, target, client, io)
    finally:
        if own_http:
            await client.close()
        if own_store:
            await target.close()


async def _dispatch(request: LoginRequest, cfg: Config, store: TokenStore, http: aiohttp.ClientSession,
                    io: LoginIO) -> Credential:
    name = request.login
    if name in BROWSER_LOGINS:
        cls = BROWSER_LOGINS[name]
        options: dict[str, Any] = {"project_id": request.project_id} if cls is GeminiCliLogin else {}
        return await run_browser_login(cls, http, endpoints_for(cls.provider, cfg), store, io,
                                       port=request.callback_port, wait_seconds=request.wait_seconds,
                                       proxy=cfg.proxy_url, **options)
    if name == "iflow-cookie":
        cookie = request.cookie
        if not cookie and io.prompt is not None:
            cookie = await io.prompt("Paste your iFlow browser cookie (it must contain BXAuth=):")
        endpoints = endpoints_for("iflow", cfg)
        assert isinstance(endpoints, IFlowEndpoints)
        credential = await cookie_login(http, endpoints, store, cookie, proxy=cfg.proxy_url)
        io.say(f"iFlow cookie authentication successful; API key expires {credential.metadata.get('expired')}; "
               f"saved {credential.file_name}")
        return credential
    if name == "qwen":
        from .device_qwen import run_qwen_login

        return await run_qwen_login(http, endpoints_for("qwen", cfg), store, io, email=request.email)
    if name == "github-copilot":
        from .device_copilot import run_copilot_login

        return await run_copilot_login(http, endpoints_for("github-copilot", cfg), store, io)
    if name in ("kiro-google", "kiro-github"):
        from .kiro import run_kiro_social_login

        idp = "Google" if name == "kiro-google" else "Github"
        return await run_kiro_social_login(http, endpoints_for("kiro", cfg), store, io, idp)
    if name == "kiro-aws":
        from .kiro import run_kiro_builder_id_login

        return await run_kiro_builder_id_login(http, endpoints_for("kiro", cfg), store, io)
    if name == "vertex":
        from .vertex_import import import_service_account_file

        if not request.vertex_file:
            raise ValueError("the Vertex import needs a service-account file (--file PATH)")
        credential = await import_service_account_file(store, request.vertex_file)
        io.say(f"Vertex service account imported; saved {credential.file_name}")
        return credential
    raise ValueError(f"unknown login {name!r}")


def main_login(request: LoginRequest, io: LoginIO | None = None) -> int:
    """Run a login from the command line; 0 on success, 1 on failure (message on stderr)."""
    from quotio_gateway.logging import setup_logging

    # stdout carries the instructions (launchers scrape it); warnings and errors go to stderr.
    setup_logging(level="warning", stream=sys.stderr)
    try:
        asyncio.run(run_login(request, io or _default_io(request.no_browser)))
    except KeyboardInterrupt:
        print("quotio-gateway: login cancelled", file=sys.stderr)
        return 1
    except LoginFailed as exc:
        print(f"quotio-gateway: {request.login} login failed: {exc.message}"
              + (f" ({exc.detail})" if exc.detail else ""), file=sys.stderr)
        return 1
    except CookieLoginError as exc:
        extra = f" (existing file: {exc.existing_file})" if exc.existing_file else ""
        print(f"quotio-gateway: iFlow cookie login failed: {exc.message}{extra}", file=sys.stderr)
        return 1
    except (DeviceFlowError, TokenEndpointError, StoreError, ConfigError, EndpointConfigError, ValueError,
            OSError) as exc:
        print(f"quotio-gateway: {request.login} login failed: {exc}", file=sys.stderr)
        return 1
    return 0
