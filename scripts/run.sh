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
if [ -z "${SMTP_URL:-}" ] && [ -z "${TELEPHONY_BASE_URL:-}" ]; then
  # No providers configured: stand-ins on 127.0.0.1 keep what the app sends (invitations,
  # reset links, voters' messages), so nothing leaves the machine and everything can be read.
  "$bin" standins --smtp-port 3002 --http-port 3001 \
    --account-sid AC00000000000000000000000000000dev --auth-token dev-auth-token >/dev/null &
  trap 'kill $! 2>/dev/null || true' EXIT
  export SMTP_URL=smtp://127.0.0.1:3002 TELEPHONY_BASE_URL=http://127.0.0.1:3001
  export TELEPHONY_ACCOUNT_SID=AC00000000000000000000000000000dev TELEPHONY_AUTH_TOKEN=dev-auth-token
  export SMS_FROM="${SMS_FROM:-+15555550100}"
  log "messages the app sends are kept by stand-ins: emails at http://127.0.0.1:3001/emails, texts and calls at http://127.0.0.1:3001/received"
fi
echo
log "staff sign in at http://${LEPTOS_SITE_ADDR:-127.0.0.1:3000}/admin/sign-in with the login above"
log "serving at http://${LEPTOS_SITE_ADDR:-127.0.0.1:3000} (Ctrl-C stops)"
"$bin" serve
