#!/usr/bin/env bash
# Installs the three coding-agent CLIs that tests/agents drives as real clients, from the npm
# registry only, into a gitignored prefix inside the checkout (default .cache/agents).
#
# Idempotent: a CLI already present at the pinned version (and able to start, for the two native
# binaries) is left alone, so a repeated `make test` spends well under a second here.
# Never fails the build: a CLI that cannot be installed (no node/npm, registry unreachable, an
# unsupported platform) gets a status file with the reason, and the harness skips its tests
# with that reason instead of failing them.
#
# Status files: <prefix>/status/<bin> holds "ok <version>" or "failed: <reason>".
#
# Native binaries, registry-only:
# - Claude Code ships `bin/claude.exe` as a stub; its postinstall (install.cjs) hard-links the
#   binary from the platform package @anthropic-ai/claude-code-<os>-<arch>, itself an optional
#   dependency on the npm registry. Nothing is downloaded from elsewhere. When scripts were not
#   run (ignore-scripts, an allow-scripts policy), the postinstall is run here by hand; when the
#   optional package is missing (omit=optional), it is installed explicitly at the same version.
# - Codex's bin/codex.js execs the Rust binary of the optional dependency @openai/codex-<os>-<arch>
#   (an npm alias of @openai/codex@<version>-<os>-<arch>); no install script at all.
# - Gemini CLI is a plain node bundle.
set -u

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PREFIX="${AGENTS_PREFIX:-$ROOT/.cache/agents}"
STATUS="$PREFIX/status"
mkdir -p "$STATUS"

# package, version pinned to ../shared/reference/cli-agents-wire.md, executable name
AGENTS=(
  "@anthropic-ai/claude-code 2.1.197 claude"
  "@openai/codex 0.169.0 codex"
  "@google/gemini-cli 0.61.0 gemini"
)

# Two `make test` runs at once must not interleave two npm installs into one prefix.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$PREFIX/.install.lock"
  flock 9
fi

log() { printf 'agents: %s\n' "$*" >&2; }

installed_version() {  # prints the version in the installed package.json, or nothing
  local manifest="$PREFIX/lib/node_modules/$1/package.json"
  [ -f "$manifest" ] || return 0
  node -e 'process.stdout.write(String(require(process.argv[1]).version || ""))' "$manifest" 2>/dev/null
}

starts() {  # whether the installed executable runs and reports the expected version
  local bin="$1" version="$2" out
  [ -x "$PREFIX/bin/$bin" ] || return 1
  case "$bin" in
    # Gemini takes seconds to print --version (it relaunches node); the bundle being there at the
    # right version is proof enough that it can start.
    gemini) [ -f "$PREFIX/lib/node_modules/@google/gemini-cli/bundle/gemini.js" ]; return ;;
  esac
  out="$(HOME="$PREFIX/.probe-home" "$PREFIX/bin/$bin" --version 2>/dev/null)" || return 1
  case "$out" in *"$version"*) return 0 ;; *) return 1 ;; esac
}

claude_platform_package() {
  local os arch musl=""
  os="$(node -p 'process.platform')"
  arch="$(node -p 'process.arch')"
  if [ "$os" = linux ] && ! node -e 'process.exit(process.report.getReport().header.glibcVersionRuntime ? 0 : 1)'; then
    musl="-musl"
  fi
  printf '@anthropic-ai/claude-code-%s-%s%s' "$os" "$arch" "$musl"
}

repair_claude() {  # places the native binary when npm did not run the postinstall
  local version="$1" dir="$PREFIX/lib/node_modules/@anthropic-ai/claude-code" native
  native="$(claude_platform_package)"
  if [ ! -f "$dir/node_modules/$native/package.json" ] && [ ! -f "$PREFIX/lib/node_modules/$native/package.json" ]; then
    log "installing $native@$version explicitly (optional dependency was skipped)"
    npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "$native@$version" >&2 || return 1
  fi
  (cd "$dir" && node install.cjs >&2)
}

error_summary() {  # npm's first few error lines on one line, without stack frames or the log hint
  printf '%s\n' "$1" | grep '^npm error' | grep -v -e '^npm error  *at ' -e 'complete log of this run' \
    | head -n 3 | sed 's/^npm error //' | tr '\n' ' '
}

npm_install() {
  # Short retries: on a machine without the registry, `make test` should reach the (skipping)
  # tests within seconds, not after npm's default minute-long backoff per package.
  npm install -g --prefix "$PREFIX" --no-audit --no-fund --loglevel=error \
    --include=optional --ignore-scripts=false \
    --fetch-retries=1 --fetch-retry-mintimeout=2000 --fetch-retry-maxtimeout=5000 "$1@$2" >&2
}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  for entry in "${AGENTS[@]}"; do
    read -r _ _ bin <<<"$entry"
    echo "failed: node and npm are not on PATH" >"$STATUS/$bin"
  done
  log "node/npm missing: agent tests will be skipped"
  exit 0
fi

for entry in "${AGENTS[@]}"; do
  read -r pkg version bin <<<"$entry"
  if [ "$(installed_version "$pkg")" = "$version" ] && starts "$bin" "$version"; then
    echo "ok $version" >"$STATUS/$bin"
    continue
  fi
  log "installing $pkg@$version into $PREFIX"
  if ! errors="$(npm_install "$pkg" "$version" 2>&1)"; then
    echo "failed: npm install $pkg@$version: $(error_summary "$errors")" >"$STATUS/$bin"
    log "could not install $pkg@$version (see $STATUS/$bin)"
    continue
  fi
  if [ "$bin" = claude ] && ! starts claude "$version"; then
    repair_claude "$version" || true
  fi
  if starts "$bin" "$version"; then
    echo "ok $version" >"$STATUS/$bin"
  else
    echo "failed: $pkg@$version installed but $PREFIX/bin/$bin does not start" >"$STATUS/$bin"
    log "$bin does not start after install (see $STATUS/$bin)"
  fi
done
exit 0
