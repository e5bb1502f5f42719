#!/usr/bin/env bash
# `make run`: set up what is missing, migrate, load demo data, create the demo administrator
# and serve at http://127.0.0.1:3000.
source "$(dirname "$0")/lib.sh"

ensure_rust_tools
ensure_postgres ballot_tracker
export SQLX_OFFLINE=true

log "building (cargo leptos build)"
cargo leptos build

bin=target/debug/ballot-tracker
log "migrating the database ($(printf '%s' "$DATABASE_URL" | sed -E 's#//[^@/]*@#//#'))"
"$bin" migrate
log "loading demo data (first start only)"
"$bin" demo --voters "${DEMO_VOTERS:-2000}" --if-empty
log "demo administrator"
"$bin" admin create --email admin@demo.example.org --name "Demo Administrator" --role state-admin --replace
echo
log "staff sign in at http://${LEPTOS_SITE_ADDR:-127.0.0.1:3000}/admin/sign-in with the login above"
log "serving at http://${LEPTOS_SITE_ADDR:-127.0.0.1:3000} (Ctrl-C stops)"
exec "$bin" serve
