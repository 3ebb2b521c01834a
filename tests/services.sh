#!/usr/bin/env bash
# Starts or installs what the test suite talks to. Idempotent; safe to run on every `make test`.
set -euo pipefail

# promtool and prometheus (Debian package `prometheus`) for tests/ops. A failed install does not
# stop the run here: those tests then fail with the reason, and everything else still runs.
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "services: installing prometheus from Debian packages"
    { apt-get update -qq >/dev/null &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; } ||
      echo "services: could not install prometheus; tests/ops will fail" >&2
    # The package's service may have started a Prometheus on :9090; the tests start their own.
  else
    echo "services: prometheus missing and not root; tests/ops will fail" >&2
  fi
fi

# PostgreSQL and Redis are started on this kind of machine before a session; start them if stopped.
if command -v pg_ctlcluster >/dev/null 2>&1 && ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi
if command -v redis-server >/dev/null 2>&1 && ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
fi
