#!/usr/bin/env bash
# The shell pipeline an operator would write instead of yuju-export:
# xargs -P runs one curl per customer, jq flattens each answer to CSV rows.
# Usage: curl_xargs_jq.sh IDS OUT  (env: YUJU_API_KEY, YUJU_BASE_URL, CONCURRENCY)
# What it does not do (and yuju-export does): keep input order, retry
# transient faults, respect a rate limit, notice a bad key, stop on a quota,
# report failed customers, or keep the key out of `ps`.
set -euo pipefail
ids=$1
out=$2
: "${YUJU_API_KEY:?}" "${YUJU_BASE_URL:?}"
export YUJU_API_KEY YUJU_BASE_URL
echo 'customer_id,chat_id,seq,sender_type,message_type,content' > "$out"
grep -v '^[[:space:]]*\(#\|$\)' "$ids" | xargs -P "${CONCURRENCY:-8}" -n 1 sh -c '
  curl -sS --fail -X POST "$YUJU_BASE_URL/v1/openapi/chat/record?apiKey=$YUJU_API_KEY" \
       -H "Content-Type: application/json" \
       -d "{\"customer_id\":\"$0\",\"days\":\"30\",\"start_time\":\"\",\"end_time\":\"\",\"chat_source\":[],\"chat_robot\":[],\"seat_member\":[]}" |
  jq -r --arg id "$0" ".Data // [] | .[] | .chat_id as \$c | (.messages // []) | to_entries[] |
       [\$id, \$c, .key, .value.sender_type, .value.message_type, .value.content] | @csv"
' >> "$out"
