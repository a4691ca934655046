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

# Makes the Python virtualenv DIR hold the given packages (installed again when the list changes).
_vp_venv() {
  local dir="$1"
  shift
  if [ "$(cat "$dir/.vp-packages" 2>/dev/null)" != "$*" ]; then
    python3 -m venv "$dir" && "$dir/bin/pip" install -q "$@" && echo "$*" >"$dir/.vp-packages"
  fi
}

# Runs the command string $1 when the calling shell exits, after the EXIT trap it already had.
_vp_on_exit() {
  local existing
  existing="$(trap -p EXIT)"
  existing="${existing#"trap -- '"}"
  existing="${existing%"' EXIT"}"
  existing="${existing//"'\''"/"'"}"
  trap -- "${existing:+$existing; }$1" EXIT
}

# Ends the emulator with process id $1 and removes its folder $2; never fails, as EXIT traps run under set -e.
# One that has not ended 5 s after SIGTERM (bqemulator can wait for the streams of clients long
# gone) is killed.
_vp_stop_service() {
  kill "$1" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  rm -rf "$2" || true
}

# Waits up to $4 tenths of a second for `curl URL` ($3, then curl options in $6...) to answer
# HTTP $5, while the process $2 lives; otherwise prints the log of $1 (NAME:LOG) and fails.
_vp_wait_http() {
  local name="${1%%:*}" log="${1#*:}" pid="$2" url="$3" tries="$4" want="$5" code=""
  shift 5
  for _ in $(seq 1 "$tries"); do
    code="$(curl -s -o /dev/null -w '%{http_code}' "$@" "$url" || true)"
    [ "$code" = "$want" ] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "$name did not start at $url (last answer: ${code:-none}); its log:" >&2
  cat "$log" >&2
  return 1
}

# Snowflake: tests use VP_SNOWFLAKE_URL. Unless it is set, run the emulator fakesnow, patched with
# scripts/fakesnow/fakesnow-0.12.1.patch, on a free local port until the calling shell exits.
ensure_fakesnow() {
  [ -n "${VP_SNOWFLAKE_URL:-}" ] && return 0
  local venv="${VP_VENV_DIR:-$HOME/.cache/vibe-piper/venvs}/fakesnow"
  local patch_file
  patch_file="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/fakesnow/fakesnow-0.12.1.patch"
  # snowflake-connector-python 5 breaks fakesnow's import
  _vp_venv "$venv" "fakesnow[server]==0.12.1" "snowflake-connector-python<5" || return 1
  local site
  site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" || return 1
  # Applied already when it reverses cleanly; a package patched otherwise is installed afresh.
  if ! patch -p1 -R -s -f --dry-run -d "$site" <"$patch_file" >/dev/null 2>&1; then
    if ! patch -p1 -N -s -f --dry-run -d "$site" <"$patch_file" >/dev/null 2>&1; then
      "$venv/bin/pip" install -q --force-reinstall --no-deps "fakesnow==0.12.1" || return 1
    fi
    patch -p1 -N -s -f --no-backup-if-mismatch -d "$site" <"$patch_file" || return 1
  fi

  local port run_dir pid
  port="$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')" || return 1
  # fakesnow keeps its stages under TMPDIR, so give it a folder of its own that goes with it
  run_dir="$(mktemp -d "${TMPDIR:-/tmp}/vp-fakesnow.XXXXXX")" || return 1
  TMPDIR="$run_dir" "$venv/bin/fakesnow" -s --host 127.0.0.1 -p "$port" </dev/null >"$run_dir/fakesnow.log" 2>&1 &
  pid=$!
  _vp_on_exit "_vp_stop_service $pid '$run_dir'"
  # without a session token the server answers 401 once it is up
  _vp_wait_http "fakesnow:$run_dir/fakesnow.log" "$pid" "http://127.0.0.1:$port/session" 600 401 -X POST || return 1
  export VP_FAKESNOW_PORT="$port"
  export VP_FAKESNOW_LOG="$run_dir/fakesnow.log"
  export VP_SNOWFLAKE_URL="snowflake://test:test@fakesnow/VP_TEST/PUBLIC?protocol=http&host=127.0.0.1&port=$port"
}

# BigQuery: tests use VP_BIGQUERY_URL. Unless it is set, run the emulator bqemulator (REST and the
# Storage gRPC API) on two free local ports until the calling shell exits.
ensure_bqemulator() {
  [ -n "${VP_BIGQUERY_URL:-}" ] && return 0
  local venv="${VP_VENV_DIR:-$HOME/.cache/vibe-piper/venvs}/bqemulator"
  # duckdb 2 downloads the spatial extension when it starts, so pin the one whose extension ships as a package
  _vp_venv "$venv" "bqemulator==1.4.0" "duckdb==1.5.5" "duckdb-extension-spatial==1.5.5" numpy || return 1
  local extension
  extension="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/duckdb_extension_spatial/extensions/v1.5.5/spatial.duckdb_extension" || return 1
  if [ ! -f "$extension" ]; then
    echo "duckdb-extension-spatial has no $extension" >&2
    return 1
  fi

  local rest_port grpc_port run_dir pid
  rest_port="$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')" || return 1
  grpc_port="$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')" || return 1
  if [ "$grpc_port" = "$rest_port" ]; then
    grpc_port="$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')" || return 1
  fi
  # duckdb looks for extensions under HOME, so give it a home of its own that goes with it
  run_dir="$(mktemp -d "${TMPDIR:-/tmp}/vp-bqemulator.XXXXXX")" || return 1
  mkdir -p "$run_dir/home/.duckdb/extensions/v1.5.5/linux_amd64" || return 1
  cp "$extension" "$run_dir/home/.duckdb/extensions/v1.5.5/linux_amd64/" || return 1
  HOME="$run_dir/home" "$venv/bin/bqemulator" start --rest-host 127.0.0.1 --rest-port "$rest_port" \
    --grpc-host 127.0.0.1 --grpc-port "$grpc_port" --project test-project </dev/null >"$run_dir/bqemulator.log" 2>&1 &
  pid=$!
  _vp_on_exit "_vp_stop_service $pid '$run_dir'"
  _vp_wait_http "bqemulator:$run_dir/bqemulator.log" "$pid" \
    "http://127.0.0.1:$rest_port/bigquery/v2/projects/test-project/datasets" 900 200 || return 1
  export VP_BQ_REST_PORT="$rest_port"
  export VP_BQ_GRPC_PORT="$grpc_port"
  export VP_BQ_LOG="$run_dir/bqemulator.log"
  export VP_BIGQUERY_URL="bigquery://test-project/vp_test?endpoint=http://127.0.0.1:$rest_port&grpc_endpoint=http://127.0.0.1:$grpc_port"
}

# S3: tests use VP_S3_ENDPOINT and VP_S3_BUCKET. Unless VP_S3_ENDPOINT is set, run the emulator
# moto on a free local port until the calling shell exits, with the bucket made by boto3.
ensure_moto() {
  [ -n "${VP_S3_ENDPOINT:-}" ] && return 0
  local venv="${VP_VENV_DIR:-$HOME/.cache/vibe-piper/venvs}/moto"
  _vp_venv "$venv" "moto[server]==5.1.18" || return 1
  local port run_dir pid
  port="$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')" || return 1
  run_dir="$(mktemp -d "${TMPDIR:-/tmp}/vp-moto.XXXXXX")" || return 1
  "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" </dev/null >"$run_dir/moto.log" 2>&1 &
  pid=$!
  _vp_on_exit "_vp_stop_service $pid '$run_dir'"
  _vp_wait_http "moto:$run_dir/moto.log" "$pid" "http://127.0.0.1:$port/moto-api/" 300 200 || return 1
  export VP_S3_ENDPOINT="http://127.0.0.1:$port"
  export VP_S3_BUCKET="vp-test"
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test "$venv/bin/python" -c \
    "import boto3; boto3.client('s3', endpoint_url='$VP_S3_ENDPOINT', region_name='us-east-1').create_bucket(Bucket='$VP_S3_BUCKET')" \
    || return 1
}

# ADBC Snowflake driver: tests load the shared library at VP_SNOWFLAKE_DRIVER. Unless it is set,
# take the one that the Python package adbc-driver-snowflake ships.
ensure_adbc_snowflake() {
  [ -n "${VP_SNOWFLAKE_DRIVER:-}" ] && return 0
  local venv="${VP_VENV_DIR:-$HOME/.cache/vibe-piper/venvs}/adbc-snowflake"
  _vp_venv "$venv" "adbc-driver-snowflake==1.11.0" pyarrow || return 1
  local driver
  driver="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/adbc_driver_snowflake/libadbc_driver_snowflake.so" || return 1
  if [ ! -f "$driver" ]; then
    echo "adbc-driver-snowflake has no $driver" >&2
    return 1
  fi
  export VP_SNOWFLAKE_DRIVER="$driver"
}
