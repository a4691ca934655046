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

# Prints a free local TCP port.
_vp_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# TLS: tests that check certificates use the files in VP_TLS_DIR. Unless it is set, make them with
# openssl in a folder of their own that goes with the calling shell: a CA (ca.pem, ca.key), a server
# certificate it signs for DNS:localhost only (server.pem, server.key), a client certificate it
# signs with CN vp_cert (client.pem, client.key) and an unrelated CA (other-ca.pem, other-ca.key).
# Keys are EC P-256 in PKCS#8 PEM, mode 0600; signatures ecdsa-with-SHA256; all valid for 2 days.
ensure_tls_certs() {
  [ -n "${VP_TLS_DIR:-}" ] && return 0
  local dir
  dir="$(mktemp -d "${TMPDIR:-/tmp}/vp-tls.XXXXXX")" || return 1
  _vp_on_exit "rm -rf '$dir' || true"
  cat >"$dir/openssl.cnf" <<'CNF' || return 1
[req]
distinguished_name = dn
[dn]
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
CNF
  local name
  for name in ca other-ca server client; do
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/$name.key" 2>/dev/null || return 1
    chmod 0600 "$dir/$name.key" || return 1
  done
  for name in ca other-ca; do
    openssl req -new -x509 -config "$dir/openssl.cnf" -extensions ca_ext -key "$dir/$name.key" \
      -subj "/CN=vibe-piper test ${name%ca}CA" -days 2 -sha256 -set_serial "0x$(openssl rand -hex 16)" \
      -out "$dir/$name.pem" || return 1
  done
  # the CN of the client certificate is the PostgreSQL user that `cert` authentication logs in
  for name in server:localhost client:vp_cert; do
    openssl req -new -config "$dir/openssl.cnf" -key "$dir/${name%%:*}.key" -subj "/CN=${name#*:}" \
      -out "$dir/${name%%:*}.csr" || return 1
    openssl x509 -req -in "$dir/${name%%:*}.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
      -set_serial "0x$(openssl rand -hex 16)" -days 2 -sha256 -extfile "$dir/openssl.cnf" \
      -extensions "${name%%:*}_ext" -out "$dir/${name%%:*}.pem" 2>/dev/null || return 1
  done
  rm -f "$dir/server.csr" "$dir/client.csr"
  export VP_TLS_DIR="$dir"
}

# Runs the command $@ as the system user postgres when we are root (initdb and postgres refuse to
# run as root), else as ourselves; from the folder $VP_PG_CWD, since postgres may not enter ours.
_vp_as_postgres() {
  if [ "$(id -u)" = 0 ]; then
    (cd "${VP_PG_CWD:-/}" && runuser -u postgres -- "$@")
  else
    (cd "${VP_PG_CWD:-/}" && "$@")
  fi
}

# Stops the private PostgreSQL cluster of ensure_tls_postgres in the folder $2 with pg_ctl $1, and
# removes the folder; never fails, as EXIT traps run under set -e.
_vp_stop_tls_postgres() {
  if [ -f "$2/data/postmaster.pid" ]; then
    VP_PG_CWD="$2" _vp_as_postgres "$1" -D "$2/data" -m immediate -s stop >/dev/null 2>&1 || true
  fi
  rm -rf "$2" || true
}

# PostgreSQL over TLS: tests use VP_TLS_PG_URL (user vp_scram, SCRAM password, database vp_tls) and
# VP_TLS_PG_PORT. Unless the port is set, run a private cluster on a free 127.0.0.1 port until the
# calling shell exits, with the certificates of ensure_tls_certs; plain TCP is refused, and its users
# (all superusers) log in as follows: vp_scram with 'p@ss:w/rd%&?é' (scram-sha-256), vp_md5 with
# 'md5-p@ss' (md5) and vp_cert with the client certificate (cert). The Unix socket in the cluster's
# folder trusts everyone.
ensure_tls_postgres() {
  [ -n "${VP_TLS_PG_PORT:-}" ] && return 0
  ensure_tls_certs || return 1
  local initdb pg_ctl
  initdb="$(command -v initdb || echo /usr/lib/postgresql/15/bin/initdb)"
  pg_ctl="$(command -v pg_ctl || echo /usr/lib/postgresql/15/bin/pg_ctl)"
  local port run_dir
  port="$(_vp_free_port)" || return 1
  run_dir="$(mktemp -d "${TMPDIR:-/tmp}/vp-tls-pg.XXXXXX")" || return 1
  _vp_on_exit "_vp_stop_tls_postgres '$pg_ctl' '$run_dir'"
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$run_dir" || return 1
    # postgres may not reach a TMPDIR under root's home: take one in /tmp then
    if ! runuser -u postgres -- test -w "$run_dir"; then
      rm -rf "$run_dir"
      run_dir="$(mktemp -d /tmp/vp-tls-pg.XXXXXX)" || return 1
      _vp_on_exit "_vp_stop_tls_postgres '$pg_ctl' '$run_dir'"
      chown postgres: "$run_dir" || return 1
    fi
  fi
  local data="$run_dir/data" log="$run_dir/postgres.log"
  VP_PG_CWD="$run_dir" _vp_as_postgres "$initdb" -D "$data" -U postgres --auth=reject --auth-local=trust \
    --encoding=UTF8 --no-locale --no-sync >"$run_dir/initdb.log" 2>&1 || { cat "$run_dir/initdb.log" >&2; return 1; }
  # postgres wants its key owned by it with mode 0600: give it copies in its data folder
  local name
  for name in server.pem server.key ca.pem; do
    cp "$VP_TLS_DIR/$name" "$data/$name" && chown --reference="$data" "$data/$name" || return 1
  done
  chmod 0600 "$data/server.key" || return 1
  cat >>"$data/postgresql.conf" <<CONF || return 1
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$run_dir'
ssl = on
ssl_cert_file = 'server.pem'
ssl_key_file = 'server.key'
ssl_ca_file = 'ca.pem'
password_encryption = 'scram-sha-256'
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
  cat >"$data/pg_hba.conf" <<'HBA' || return 1
local     all  all      trust
hostssl   all  vp_cert  127.0.0.1/32  cert
hostssl   all  vp_cert  ::1/128       cert
hostssl   all  vp_md5   127.0.0.1/32  md5
hostssl   all  vp_md5   ::1/128       md5
hostssl   all  all      127.0.0.1/32  scram-sha-256
hostssl   all  all      ::1/128       scram-sha-256
hostnossl all  all      127.0.0.1/32  reject
hostnossl all  all      ::1/128       reject
HBA
  if ! VP_PG_CWD="$run_dir" _vp_as_postgres "$pg_ctl" -D "$data" -w -t 60 -l "$log" -s start >/dev/null 2>&1; then
    echo "the private PostgreSQL on port $port did not start; its log:" >&2
    cat "$log" >&2
    return 1
  fi
  # md5 hashes vp_md5's password as md5, which the md5 method then checks as such
  if ! PGCLIENTENCODING=UTF8 psql -X -q -v ON_ERROR_STOP=1 "host=$run_dir port=$port dbname=postgres user=postgres" \
    >"$run_dir/setup.log" 2>&1 <<'SQL'; then
CREATE ROLE vp_scram LOGIN SUPERUSER PASSWORD 'p@ss:w/rd%&?é';
SET password_encryption = 'md5';
CREATE ROLE vp_md5 LOGIN SUPERUSER PASSWORD 'md5-p@ss';
CREATE ROLE vp_cert LOGIN SUPERUSER;
CREATE DATABASE vp_tls OWNER vp_scram;
SQL
    echo "could not set up the private PostgreSQL on port $port:" >&2
    cat "$run_dir/setup.log" "$log" >&2
    return 1
  fi
  # check each way in (and that plain TCP is refused) before the tests rely on it
  local conn="host=localhost port=$port dbname=vp_tls connect_timeout=10" ok=1
  PGPASSWORD='p@ss:w/rd%&?é' psql -X -q -tA -c 'select 1' \
    "$conn user=vp_scram sslmode=verify-full sslrootcert=$VP_TLS_DIR/ca.pem" >"$run_dir/check.log" 2>&1 || ok=0
  PGPASSWORD='md5-p@ss' psql -X -q -tA -c 'select 1' "$conn user=vp_md5 sslmode=require" >>"$run_dir/check.log" 2>&1 || ok=0
  psql -X -q -tA -c 'select 1' "$conn user=vp_cert sslmode=verify-full sslrootcert=$VP_TLS_DIR/ca.pem \
    sslcert=$VP_TLS_DIR/client.pem sslkey=$VP_TLS_DIR/client.key" >>"$run_dir/check.log" 2>&1 || ok=0
  if PGPASSWORD='p@ss:w/rd%&?é' psql -X -q -tA -c 'select 1' "$conn user=vp_scram sslmode=disable" \
    >>"$run_dir/check.log" 2>&1; then
    echo "the private PostgreSQL on port $port let in a connection without TLS" >>"$run_dir/check.log"
    ok=0
  fi
  if [ "$ok" = 0 ]; then
    echo "the private PostgreSQL on port $port does not answer as it should:" >&2
    cat "$run_dir/check.log" "$log" >&2
    return 1
  fi
  export VP_TLS_PG_PORT="$port"
  export VP_TLS_PG_SOCKET_DIR="$run_dir"
  export VP_TLS_PG_LOG="$log"
  # the password with each reserved character percent-encoded
  export VP_TLS_PG_URL="postgres://vp_scram:p%40ss%3Aw%2Frd%25%26%3F%C3%A9@localhost:$port/vp_tls"
}

# MariaDB over TLS: tests use VP_TLS_MYSQL_URL (user vp_native, database vp_tls), VP_TLS_MYSQL_PORT
# and VP_TLS_MYSQL_SOCKET. Unless the port is set, run a private server on a free 127.0.0.1 port
# until the calling shell exits, with the certificates of ensure_tls_certs; TCP without TLS is refused
# (require_secure_transport), and vp_native, granted everything, logs in with 'n@tive:pw/%'
# (mysql_native_password). root logs in without a password, over the Unix socket only.
# VP_TLS_MYSQL_REQUIRE_SECURE=OFF lets TCP without TLS in too, and VP_TLS_MYSQL_BUFFER_POOL sets
# the InnoDB buffer pool (default 32M), for scripts/bench-tls.sh.
ensure_tls_mariadb() {
  [ -n "${VP_TLS_MYSQL_PORT:-}" ] && return 0
  ensure_tls_certs || return 1
  local mariadbd
  mariadbd="$(command -v mariadbd || echo /usr/sbin/mariadbd)"
  local port run_dir pid as_root=()
  port="$(_vp_free_port)" || return 1
  run_dir="$(mktemp -d "${TMPDIR:-/tmp}/vp-tls-mysql.XXXXXX")" || return 1
  # mariadbd refuses to run as root unless told to
  if [ "$(id -u)" = 0 ]; then as_root=(--user=root); fi
  local sock="$run_dir/mysqld.sock" log="$run_dir/error.log"
  # a small redo log and no flushing make both the set-up and the server quick
  local fast=(--innodb-log-file-size=8M --innodb-buffer-pool-size="${VP_TLS_MYSQL_BUFFER_POOL:-32M}" --innodb-flush-log-at-trx-commit=0
    --innodb-doublewrite=0 --skip-log-bin --skip-name-resolve)
  if ! mariadb-install-db --no-defaults --datadir="$run_dir/data" --auth-root-authentication-method=normal \
    --skip-test-db "${as_root[@]}" "${fast[@]}" >"$run_dir/install.log" 2>&1; then
    echo "mariadb-install-db failed:" >&2
    cat "$run_dir/install.log" >&2
    rm -rf "$run_dir"
    return 1
  fi
  "$mariadbd" --no-defaults --datadir="$run_dir/data" --socket="$sock" --port="$port" --bind-address=127.0.0.1 \
    --pid-file="$run_dir/mariadbd.pid" --log-error="$log" "${as_root[@]}" "${fast[@]}" \
    --ssl-ca="$VP_TLS_DIR/ca.pem" --ssl-cert="$VP_TLS_DIR/server.pem" --ssl-key="$VP_TLS_DIR/server.key" \
    --require-secure-transport="${VP_TLS_MYSQL_REQUIRE_SECURE:-ON}" </dev/null >"$run_dir/mariadbd.out" 2>&1 &
  pid=$!
  _vp_on_exit "_vp_stop_service $pid '$run_dir'"
  local up=0
  for _ in $(seq 1 300); do
    mariadb-admin --no-defaults --socket="$sock" -u root ping >/dev/null 2>&1 && { up=1; break; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ "$up" = 0 ]; then
    echo "the private MariaDB on port $port did not start; its log:" >&2
    cat "$run_dir/mariadbd.out" "$log" >&2
    return 1
  fi
  # the Unix socket counts as secure; root keeps only its socket account
  if ! mariadb --no-defaults --socket="$sock" -u root >"$run_dir/setup.log" 2>&1 <<'SQL'; then
DELETE FROM mysql.global_priv WHERE User = 'root' AND Host <> 'localhost';
DELETE FROM mysql.proxies_priv WHERE Host <> 'localhost';
FLUSH PRIVILEGES;
CREATE USER 'vp_native'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('n@tive:pw/%');
GRANT ALL PRIVILEGES ON *.* TO 'vp_native'@'%' WITH GRANT OPTION;
CREATE DATABASE vp_tls;
SQL
    echo "could not set up the private MariaDB on port $port:" >&2
    cat "$run_dir/setup.log" "$log" >&2
    return 1
  fi
  # check the way in, and that it is refused without TLS and when the name is not the certificate's
  local client=(mariadb --no-defaults --protocol=TCP -P "$port" -u vp_native --connect-timeout=10) ok=1
  MYSQL_PWD='n@tive:pw/%' "${client[@]}" -h localhost --ssl --ssl-ca="$VP_TLS_DIR/ca.pem" \
    --ssl-verify-server-cert -N -e 'select 1' vp_tls >"$run_dir/check.log" 2>&1 || ok=0
  if [ "${VP_TLS_MYSQL_REQUIRE_SECURE:-ON}" = ON ] &&
    MYSQL_PWD='n@tive:pw/%' "${client[@]}" -h localhost --skip-ssl -e 'select 1' >>"$run_dir/check.log" 2>&1; then
    echo "the private MariaDB on port $port let in a connection without TLS" >>"$run_dir/check.log"
    ok=0
  fi
  if MYSQL_PWD='n@tive:pw/%' "${client[@]}" -h 127.0.0.1 --ssl --ssl-ca="$VP_TLS_DIR/ca.pem" \
    --ssl-verify-server-cert -e 'select 1' >>"$run_dir/check.log" 2>&1; then
    echo "the certificate of the private MariaDB on port $port passed for 127.0.0.1" >>"$run_dir/check.log"
    ok=0
  fi
  if [ "$ok" = 0 ]; then
    echo "the private MariaDB on port $port does not answer as it should:" >&2
    cat "$run_dir/check.log" "$log" >&2
    return 1
  fi
  export VP_TLS_MYSQL_PORT="$port"
  export VP_TLS_MYSQL_SOCKET="$sock"
  export VP_TLS_MYSQL_LOG="$log"
  # the password with each reserved character percent-encoded
  export VP_TLS_MYSQL_URL="mysql://vp_native:n%40tive%3Apw%2F%25@localhost:$port/vp_tls"
}
