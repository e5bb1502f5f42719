#!/usr/bin/env bash
# Shared set-up for `make run`, `make test` and `make bench`: installs what is missing and finds
# (or starts) PostgreSQL. Every step is idempotent and says what it does.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CARGO_LEPTOS_VERSION="0.3.10"
SQLX_CLI_VERSION="0.8.6"
LOCAL_PG_PORT="${LOCAL_PG_PORT:-54329}"
LOCAL_PG_DIR="$ROOT/.data/pg"

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  if [ ! -f /tmp/.ballot-tracker-apt-updated ]; then
    as_root apt-get update -qq && touch /tmp/.ballot-tracker-apt-updated
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# The wasm target, cargo-leptos and wasm-bindgen at the versions this project pins.
ensure_rust_tools() {
  if ! rustup target list --installed | grep -q wasm32-unknown-unknown; then
    log "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
    log "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 14 minutes, once)"
    cargo install --locked cargo-leptos --version "$CARGO_LEPTOS_VERSION"
  fi
  local wbg
  wbg="$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')"
  if ! wasm-bindgen --version 2>/dev/null | grep -q "$wbg"; then
    log "installing wasm-bindgen-cli $wbg (must equal Cargo.lock's wasm-bindgen)"
    # Not --locked: its lock file names a crate version the registry lacks.
    cargo install wasm-bindgen-cli --version "$wbg"
  fi
}

ensure_sqlx_cli() {
  if ! cargo sqlx --version 2>/dev/null | grep -q "$SQLX_CLI_VERSION"; then
    log "installing sqlx-cli $SQLX_CLI_VERSION"
    cargo install sqlx-cli --version "$SQLX_CLI_VERSION" --locked --no-default-features --features postgres,rustls
  fi
}

ensure_node_packages() {
  if ! command -v npm >/dev/null; then
    log "installing Node.js and npm"
    apt_install nodejs npm
  fi
  if [ ! -d end2end/node_modules ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
    log "installing npm packages for the browser tests"
    (cd end2end && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

ensure_chromium() {
  if [ ! -x /usr/bin/chromium ]; then
    log "installing Debian's chromium"
    apt_install chromium
  fi
  # Voters' phones and computers have Chinese, Japanese and Korean fonts, which the site does
  # not serve (style/main.css); give the test browser them too, so screenshots read true.
  if command -v fc-list >/dev/null && [ -z "$(fc-list :lang=zh 2>/dev/null)" ]; then
    log "installing Debian's fonts-noto-cjk for the browser tests"
    apt_install fonts-noto-cjk
  fi
}

# wrk, the HTTP load generator `make bench` uses (Debian's package).
ensure_wrk() {
  if ! command -v wrk >/dev/null; then
    log "installing Debian's wrk"
    apt_install wrk
  fi
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# Sets PG_BASE (a server URL without a database) and exports DATABASE_URL: the one given when
# its server answers, else database $1 on 127.0.0.1:5432, else on a project-local cluster
# under .data/pg that this starts (installing PostgreSQL when it is missing).
ensure_postgres() {
  local name="$1"
  find_postgres
  case "${DATABASE_URL:-}" in
    "$PG_BASE"/*) ;;
    *) export DATABASE_URL="$PG_BASE/$name" ;;
  esac
}

find_postgres() {
  if [ -n "${DATABASE_URL:-}" ]; then
    local hostport host port
    hostport="$(printf '%s' "$DATABASE_URL" | sed -E 's#^[a-z]+://([^@/]*@)?([^/?]*).*#\2#')"
    host="${hostport%%:*}"; port="${hostport##*:}"; [ "$port" = "$hostport" ] && port=5432
    if port_open "$host" "$port"; then
      PG_BASE="${DATABASE_URL%/*}"
      return
    fi
    log "DATABASE_URL's server ($host:$port) does not answer; looking for another"
  fi
  if port_open 127.0.0.1 5432; then
    PG_BASE="postgres://postgres@127.0.0.1:5432"
    return
  fi
  if ! port_open 127.0.0.1 "$LOCAL_PG_PORT"; then
    start_local_postgres
  fi
  PG_BASE="postgres://postgres@127.0.0.1:$LOCAL_PG_PORT"
}

start_local_postgres() {
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
  if [ -z "$bin" ]; then
    log "installing PostgreSQL (Debian package)"
    apt_install postgresql
    bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
  fi
  local run=()
  # PostgreSQL refuses to run as root: run it as the postgres user.
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home /var/lib/postgresql postgres
    run=(runuser -u postgres --)
  fi
  mkdir -p "$LOCAL_PG_DIR"
  [ "$(id -u)" = 0 ] && chown postgres "$LOCAL_PG_DIR"
  if [ ! -f "$LOCAL_PG_DIR/PG_VERSION" ]; then
    log "creating a project-local PostgreSQL cluster in .data/pg"
    "${run[@]}" "$bin/initdb" -D "$LOCAL_PG_DIR" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  log "starting the project-local PostgreSQL on 127.0.0.1:$LOCAL_PG_PORT"
  "${run[@]}" "$bin/pg_ctl" -D "$LOCAL_PG_DIR" -l "$LOCAL_PG_DIR/server.log" -w \
    -o "-p $LOCAL_PG_PORT -k $LOCAL_PG_DIR -c listen_addresses=127.0.0.1" start >/dev/null
}
