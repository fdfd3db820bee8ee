#!/usr/bin/env bash
# Fuzzes the API from its own OpenAPI document with Schemathesis: every
# operation, valid and invalid requests, as the system administrator, against
# a fresh `keydesk serve` on 127.0.0.1 with a temporary database. Passes when
# the server answers no 5xx and nothing the document does not describe. A
# schema-valid request may still be refused with a documented 4xx (a rule no
# schema can say: an expiry in the past, a name already taken), so
# Schemathesis' positive_data_acceptance check is left out.
#
#   fuzz/run.sh                # about 5 minutes (FUZZ_SECONDS=300)
#   FUZZ_SECONDS=60 fuzz/run.sh
#
# Needs Python 3 (Schemathesis is installed into fuzz/.venv on first use,
# from PyPI) and builds target/release/keydesk.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-300}"
venv=fuzz/.venv
if [[ ! -x "$venv/bin/schemathesis" ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet 'schemathesis>=4,<5'
fi
cargo build --release --locked --bin keydesk
work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
token="kdm_fuzz_$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
pepper="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
KEYDESK_BOOTSTRAP_TOKEN="$token" KEYDESK_PEPPER="$pepper" \
    target/release/keydesk serve --listen "127.0.0.1:$port" --data-dir "$work/data" \
    >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
# Something to find: a tenant with keys on, a key, a user.
curl -sf -X POST "$base/v1/tenants" -H "Authorization: Bearer $token" \
    -H 'content-type: application/json' \
    -d '{"id":"acme","name":"Acme","settings":{"api_keys_enabled":true}}' >/dev/null
curl -sf -X POST "$base/v1/tenants/acme/keys" -H "Authorization: Bearer $token" \
    -H 'content-type: application/json' -d '{"name":"fuzzed"}' >/dev/null
# Rotating the caller's own token would sign the fuzzer out: left out.
"$venv/bin/schemathesis" run "$base/openapi.json" \
    -H "Authorization: Bearer $token" \
    --exclude-path-regex '/token$' \
    --checks all \
    --exclude-checks positive_data_acceptance \
    --max-time "$seconds" \
    --workers 2 \
    --report junit --report-dir target/fuzz \
    | tee "$work/schemathesis.log"
status=${PIPESTATUS[0]}
if grep -qE ' (500|502|503|504) ' "$work/serve.log"; then
    echo "the server logged a 5xx:" >&2
    grep -E ' (500|502|503|504) ' "$work/serve.log" | head -20 >&2
    status=1
fi
exit "$status"
