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

# MariaDB/MySQL: tests use VP_MYSQL_URL (default the local server, root without password).
ensure_mysql() {
  export VP_MYSQL_URL="${VP_MYSQL_URL:-mysql://root@127.0.0.1:3306}"
  if command -v mariadb-admin >/dev/null 2>&1 && ! mariadb-admin -h 127.0.0.1 -u root ping >/dev/null 2>&1; then
    if [ -x /usr/sbin/mariadbd ] && command -v start-stop-daemon >/dev/null 2>&1; then
      start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
      for _ in $(seq 1 30); do mariadb-admin -h 127.0.0.1 -u root ping >/dev/null 2>&1 && break; sleep 1; done
    fi
  fi
}
