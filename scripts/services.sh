#!/usr/bin/env bash
# Helpers that make sure the services the tests use are up. Sourced by scripts/test.sh.

# PostgreSQL: tests use VP_POSTGRES_URL (default the local server). When it does not answer,
# try the machine's own cluster; with Docker, the tests start a container through testcontainers.
ensure_postgres() {
  local url="${VP_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
  export VP_POSTGRES_URL="$url"
  if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
    if command -v pg_ctlcluster >/dev/null 2>&1; then
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
      for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
    fi
  fi
}
