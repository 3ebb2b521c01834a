"""The ``quotio-gateway`` command, including the single-dash form launchers use for CLIProxyAPI.

    quotio-gateway serve --config PATH [--flags PATH] [--state-dir DIR] [--host H] [--port N]
    quotio-gateway -config PATH [-password PW]          (drop-in for the Go binary)
    quotio-gateway flags [show|set ROUTE MODE ...]       (against a running gateway)
    quotio-gateway shadow report                         (mismatch summary)
    quotio-gateway login PROVIDER [--no-browser] [--project-id ID] [--config PATH]
    quotio-gateway -claude-login [-no-browser] -config PATH  (and the other CLIProxyAPI login flags)
    quotio-gateway --version
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from . import __version__

# CLIProxyAPI v6.7.15 flags (cmd/server/main.go). Login and import modes run natively
# (handlers.logins.login_cli); the few it has no flow for are handed to the legacy binary.
_GO_BOOL_FLAGS = {"login", "codex-login", "claude-login", "qwen-login", "iflow-login", "iflow-cookie",
                  "antigravity-login", "no-browser", "github-copilot-login", "kiro-google-login",
                  "kiro-aws-login", "kiro-aws-authcode", "kiro-import"}
_GO_VALUE_FLAGS = {"config", "oauth-callback-port", "project_id", "vertex-import", "password"}
_GO_MODE_FLAGS = _GO_BOOL_FLAGS - {"no-browser"} | {"vertex-import"}


class UsageError(Exception):
    pass


def parse_go_flags(argv: list[str]) -> dict[str, str | bool]:
    """Go's flag package rules: -name, --name, -name=value, -name value; stops at the first non-flag."""
    out: dict[str, str | bool] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-") or arg in ("-", "--"):
            raise UsageError(f"unexpected argument {arg!r}")
        name = arg.lstrip("-")
        value: str | None = None
        if "=" in name:
            name, value = name.split("=", 1)
        if name in ("h", "help"):
            raise UsageError("help")
        if name in _GO_BOOL_FLAGS:
            out[name] = value is None or value.lower() in ("1", "t", "true")
        elif name in _GO_VALUE_FLAGS:
            if value is None:
                i += 1
                if i >= len(argv):
                    raise UsageError(f"flag needs an argument: -{name}")
                value = argv[i]
            out[name] = value
        else:
            raise UsageError(f"flag provided but not defined: -{name}")
        i += 1
    return out


def _setup_logging(debug: bool = False) -> None:
    from .logging import setup_logging

    setup_logging(level="debug" if debug else "info")


def _run_server(config: Path | None, flags: Path | None, state_dir: Path | None, host: str | None,
                port: int | None, password: str | None) -> int:
    from .app import GatewayOptions
    from .config.loader import ConfigError
    from .flags.loader import FlagsError
    from .server import install_uvloop, serve

    _setup_logging()
    if config is not None and not config.is_file():
        print(f"quotio-gateway: failed to load config: {config}: no such file", file=sys.stderr)
        return 1
    options = GatewayOptions(config_path=config.resolve() if config else None,
                             flags_path=flags.resolve() if flags else None,
                             state_dir=state_dir.resolve() if state_dir else None, local_password=password)
    install_uvloop()
    try:
        asyncio.run(serve(options, host=host, port=port))
    except (ConfigError, FlagsError) as exc:
        print(f"quotio-gateway: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


def _legacy_mode(flags: dict[str, str | bool], argv: list[str]) -> int:
    """Hand a login/import invocation to the legacy binary named in flags.yaml."""
    from .app import GatewayOptions, load_table

    config = Path(str(flags["config"])) if "config" in flags else Path.cwd() / "config.yaml"
    table, _, _ = load_table(GatewayOptions(config_path=config if config.exists() else None))
    mode = next(name for name in flags if name in _GO_MODE_FLAGS)
    if not table.legacy.binary:
        print(f"quotio-gateway: -{mode} is not available natively yet and no legacy.binary is set in "
              "flags.yaml to hand it to", file=sys.stderr)
        return 2
    os.execv(table.legacy.binary, [table.legacy.binary, *argv])
    return 0  # pragma: no cover - execv does not return


def _login_mode(flags: dict[str, str | bool], argv: list[str]) -> int:
    """A login/import flag: run it natively when there is a native flow, else hand it to the legacy."""
    from handlers.logins.login_cli import login_request_from_go_flags, main_login

    request = login_request_from_go_flags(flags)
    if request is None:
        return _legacy_mode(flags, argv)
    return main_login(request)


def _login_command(args: argparse.Namespace) -> int:
    from handlers.logins.login_cli import LOGIN_PROVIDERS, LoginRequest, main_login

    login = LOGIN_PROVIDERS.get(args.provider.strip().lower())
    if login is None:
        raise UsageError(f"unknown provider {args.provider!r}; choose one of: {', '.join(sorted(LOGIN_PROVIDERS))}")
    return main_login(LoginRequest(login=login, config_path=args.config, no_browser=args.no_browser,
                                   project_id=args.project_id, callback_port=args.callback_port,
                                   cookie=args.cookie, vertex_file=args.file, email=args.email))


def _go_entry(argv: list[str]) -> int:
    try:
        flags = parse_go_flags(argv)
    except UsageError as exc:
        if str(exc) == "help":
            print(__doc__)
            return 0
        print(f"quotio-gateway: {exc}\nusage: quotio-gateway -config PATH (or: quotio-gateway serve --help)",
              file=sys.stderr)
        return 2
    if any(name in _GO_MODE_FLAGS for name in flags):
        return _login_mode(flags, argv)
    config = Path(str(flags["config"])) if flags.get("config") else Path.cwd() / "config.yaml"
    password = str(flags["password"]) if flags.get("password") else None
    return _run_server(config, None, None, None, None, password)


def _request(url: str, key: str | None, method: str = "GET", body: object | None = None) -> object:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        raise UsageError(f"{method} {url} answered {exc.code}: {detail}") from None
    except urllib.error.URLError as exc:
        raise UsageError(f"cannot reach the gateway at {url}: {exc.reason}") from None


def _client_args(parser: argparse.ArgumentParser, *, again: bool = False) -> None:
    """``--url`` and ``--key``. ``again``: the same options on a sub-command, so they may follow it
    (``flags set ROUTE MODE --key K``); given there they win, and absent there they leave the
    value from before the sub-command alone (SUPPRESS: no default to overwrite it with)."""
    url_default = argparse.SUPPRESS if again else os.environ.get("QUOTIO_GATEWAY_URL", "http://127.0.0.1:8317")
    key_default = argparse.SUPPRESS if again else (
        os.environ.get("QUOTIO_MANAGEMENT_KEY") or os.environ.get("MANAGEMENT_PASSWORD"))
    parser.add_argument("--url", default=url_default,
                        help="base URL of the running gateway (env QUOTIO_GATEWAY_URL)")
    parser.add_argument("--key", default=key_default, help="management key (env QUOTIO_MANAGEMENT_KEY)")


def _flags_command(args: argparse.Namespace) -> int:
    base = args.url.rstrip("/")
    if args.action == "set":
        patch: dict[str, object] = {"match": args.route, "mode": args.mode}
        for name in ("model", "percent", "sample"):
            if getattr(args, name) is not None:
                patch[name] = getattr(args, name)
        if args.fallback is not None:
            patch["fallback_to_legacy"] = args.fallback
        result = _request(f"{base}/v0/gateway/flags", args.key, "PATCH", patch)
        print(json.dumps(result))
        return 0
    if args.action == "audit":
        print(json.dumps(_request(f"{base}/v0/gateway/flags/audit", args.key), indent=2))
        return 0
    table = _request(f"{base}/v0/gateway/flags", args.key)
    assert isinstance(table, dict)
    print(f"default: {table.get('default')}")
    print(f"{'MODE':8} {'PERCENT':>7} {'SAMPLE':>6} {'FALLBACK':8}  ROUTE")
    for route in table.get("routes", []):
        model = f" [{route['model']}]" if route.get("model") else ""
        print(f"{route['mode']:8} {route.get('percent', 0):>7} {route.get('sample', 1):>6} "
              f"{'yes' if route.get('fallback_to_legacy') else 'no':8}  {route['match']}{model}")
    return 0


def _shadow_command(args: argparse.Namespace) -> int:
    from .shadow.report import render_report, report_from_db

    if args.db:
        data = asyncio.run(report_from_db(Path(args.db)))
    else:
        # Route labels hold a space ("GET /v1/models"): encode the query.
        query = "?" + urllib.parse.urlencode({"limit": args.limit, **({"route": args.route} if args.route else {})})
        data = _request(f"{args.url.rstrip('/')}/v0/gateway/shadow{query}", args.key)
    print(render_report(data))  # type: ignore[arg-type]
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="quotio-gateway", description="Strangler gateway for CLIProxyAPI")
    parser.add_argument("--version", action="version", version=f"quotio-gateway {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument("--config", type=Path, help="CLIProxyAPI config.yaml (default: embedded defaults)")
    serve.add_argument("--flags", type=Path, help="flags.yaml (default: next to the config, else packaged)")
    serve.add_argument("--state-dir", type=Path, help="directory for the SQLite state")
    serve.add_argument("--host", help="override the listen host")
    serve.add_argument("--port", type=int, help="override the listen port")
    login = sub.add_parser("login", help="sign in to a provider and save the credential in the auth-dir")
    login.add_argument("provider", help="claude, codex, gemini, antigravity, iflow, iflow-cookie, qwen, "
                                        "github-copilot, kiro-google, kiro-github, kiro-aws, vertex")
    login.add_argument("--config", type=Path, help="CLIProxyAPI config.yaml (auth-dir, proxy-url, endpoints)")
    login.add_argument("--no-browser", action="store_true", help="print the URL instead of opening a browser")
    login.add_argument("--project-id", default="", help="Gemini CLI: Google Cloud project id, or ALL")
    login.add_argument("--callback-port", type=int, help="listen for the browser callback on this port")
    login.add_argument("--cookie", default="", help="iflow-cookie: the platform.iflow.cn cookie (BXAuth=...)")
    login.add_argument("--file", default="", help="vertex: the service-account JSON file to import")
    login.add_argument("--email", default="", help="qwen: email or alias that names the credential")
    flags = sub.add_parser("flags", help="show or change the flag table of a running gateway")
    _client_args(flags)
    flag_sub = flags.add_subparsers(dest="action")
    _client_args(flag_sub.add_parser("show", help="print the table"), again=True)
    _client_args(flag_sub.add_parser("audit", help="print the audit trail"), again=True)
    setter = flag_sub.add_parser("set", help="set one route's mode")
    _client_args(setter, again=True)
    setter.add_argument("route", help='route match, e.g. "GET /v0/management/*"')
    setter.add_argument("mode", choices=["legacy", "shadow", "canary", "native"])
    setter.add_argument("--model")
    setter.add_argument("--percent", type=float)
    setter.add_argument("--sample", type=float)
    setter.add_argument("--fallback", action=argparse.BooleanOptionalAction, default=None)
    shadow = sub.add_parser("shadow", help="shadow comparison results")
    shadow_sub = shadow.add_subparsers(dest="action", required=True)
    report = shadow_sub.add_parser("report", help="mismatch summary")
    _client_args(report)
    report.add_argument("--route")
    report.add_argument("--limit", type=int, default=20)
    report.add_argument("--db", help="read a state.sqlite3 file directly instead of asking the gateway")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0].startswith("-") and not argv[0].startswith("--") and argv[0] not in ("-h",):
        return _go_entry(argv)
    if argv and argv[0].startswith("--") and argv[0].lstrip("-").split("=")[0] in _GO_VALUE_FLAGS | _GO_BOOL_FLAGS:
        return _go_entry(argv)
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _run_server(args.config, args.flags, args.state_dir, args.host, args.port, None)
        if args.command == "flags":
            return _flags_command(args)
        if args.command == "login":
            return _login_command(args)
        return _shadow_command(args)
    except UsageError as exc:
        print(f"quotio-gateway: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
