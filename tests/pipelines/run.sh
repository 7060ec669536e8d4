#!/usr/bin/env bash
# Real pipeline clients against the real executables: Meltano runs tap-yuju
# into PostgreSQL through meltanolabs-target-postgres (both streams, the
# customers taken from the contact list, two incremental runs, the chats
# joined to the contacts; then a sync killed with SIGKILL and resumed from
# the target's last state), and PyAirbyte runs source-yuju's check,
# discover and read of both streams into its DuckDB cache. Every loaded
# table must equal what `yuju-export export` writes for the same window. Python tools live in a virtual environment made here;
# PostgreSQL comes from Debian's packages and runs as a private cluster.
# With WHEEL (packaging/build.sh's), Meltano installs tap-yuju from it
# through the plugin's pip_url (`meltano install`), and PyAirbyte installs
# source-yuju from it (`pip_url`); without, both run the executables in BIN.
# Usage: tests/pipelines/run.sh [BIN (target/debug)] [WHEEL]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
bin=$(cd "${1:-target/debug}" && pwd)
wheel=""
[[ -n "${2:-}" ]] && wheel=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
work=$(mktemp -d)
chmod 755 "$work"
pgbin=""
cleanup() {
  kill $(cat "$work"/*.pid 2>/dev/null) 2>/dev/null || true
  if [[ -n "$pgbin" && -d "$work/pg/data" ]]; then
    su postgres -s /bin/sh -c "'$pgbin/pg_ctl' -D '$work/pg/data' -m immediate stop" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

source tests/lib.sh

# Meltano with its target, and PyAirbyte, each in a virtual environment of
# its own (their dependencies pin different versions of the same packages).
venv=$(venv_with meltano meltano meltanolabs-target-postgres)
pyairbyte=$(venv_with pyairbyte airbyte airbyte-protocol-models)
export PATH="$venv/bin:$PATH"

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  retry_once apt-get update -qq
  retry_once env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
pgbin=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir "$work/pg"
chown postgres "$work/pg"
su postgres -s /bin/sh -c "'$pgbin/initdb' -D '$work/pg/data' -A trust -U postgres" >/dev/null
su postgres -s /bin/sh -c "'$pgbin/pg_ctl' -D '$work/pg/data' -l '$work/pg/log' -w \
  -o '-p $port -k $work/pg -c listen_addresses=127.0.0.1' start" >/dev/null
psql() { su postgres -s /bin/sh -c "'$pgbin/psql' -h 127.0.0.1 -p $port -U postgres -v ON_ERROR_STOP=1 $*"; }
psql "-c 'create database yuju'" >/dev/null

# The dated simulator, printing each request's window; 40 contacts, and
# every message with undocumented fields (so `extra` is checked everywhere).
contacts=40
dated_mock() { # log, extra flags...
  local log=$1
  shift
  start_mock "$bin/yuju-export" "$log" --key ci-key --chat-dates 2026-03-01..2026-03-11 \
    --contacts "$contacts" --undocumented-fields --log-requests "$@"
}
addr=$(dated_mock "$work/mock.log")

# The ID file of the killed sync and of PyAirbyte: the contact list, and two
# customers whose answers drift from the documentation.
YUJU_API_KEY=ci-key "$bin/yuju-export" contacts --base-url "http://$addr" --out "$work/contacts.csv" -q
{ tail -n +2 "$work/contacts.csv" | cut -d, -f1; echo drift-a; echo drift-b; } > "$work/ids.txt"
chmod 644 "$work/ids.txt"

truth() { # start end output [customers: --ids FILE or --all-contacts]
  local customers=("--ids" "$work/ids.txt")
  [[ $# -gt 3 ]] && customers=("${@:4}")
  YUJU_API_KEY=ci-key "$bin/yuju-export" export --base-url "http://$addr" "${customers[@]}" \
    --start "$1" --end "$2" --tz UTC --out "$3" --progress never -q \
    --columns customer_id,chat_id,seq,sender_type,message_type,content,extra,chat_extra
}
table() { # schema output
  psql "-d yuju -Atc \"select row_to_json(t) from (select customer_id, chat_id, seq, sender_type,
    message_type, content, extra, chat_extra from $1.chat_messages) t\"" > "$2"
}

echo "--- Meltano: tap-yuju into PostgreSQL, both streams, two incremental runs"
mkdir "$work/meltano"
sed -e "s|@TAP@|$bin/tap-yuju|" -e "s|@TARGET@|$venv/bin/target-postgres|" \
  -e "s|@BASE_URL@|http://$addr|" -e "s|@PORT@|$port|" \
  tests/pipelines/meltano.yml > "$work/meltano/meltano.yml"
if [[ -n "$wheel" ]]; then
  # The extractor as Meltano users add one: pip_url, then meltano install.
  sed -i -e "s|executable: \"$bin/tap-yuju\"|executable: tap-yuju\n    pip_url: \"$wheel\"|" "$work/meltano/meltano.yml"
fi
cd "$work/meltano"
export TAP_YUJU_API_KEY=ci-key MELTANO_SEND_ANONYMOUS_USAGE_STATS=false
if [[ -n "$wheel" ]]; then
  retry_once meltano install > "$work/install.log" 2>&1 || { cat "$work/install.log"; exit 1; }
  installed=$(ls .meltano/extractors/tap-yuju/venv/bin/tap-yuju) || { cat "$work/install.log"; exit 1; }
  echo "meltano install put tap-yuju from the wheel at $installed"
fi
meltano run tap-yuju target-postgres > "$work/run1.log" 2>&1 || { cat "$work/run1.log"; exit 1; }
before=$(wc -l < "$work/mock.log")
TAP_YUJU_END_DATE=2026-03-07 meltano run tap-yuju target-postgres > "$work/run2.log" 2>&1 \
  || { cat "$work/run2.log"; exit 1; }
tail -n +"$((before + 1))" "$work/mock.log" | grep '^request ' > "$work/run2.requests"
meltano state get ci:tap-yuju-to-target-postgres 2>/dev/null | tail -n 1 > "$work/meltano.state"
cd "$root"
truth 2026-03-01 2026-03-07 "$work/truth-meltano.jsonl" --all-contacts
table yuju "$work/meltano.jsonl"
python3 tests/pipelines/check.py table "$work/meltano.jsonl" "$work/truth-meltano.jsonl"
# The contacts: every one once, every message row joined to its contact,
# and the personal data the catalog left out never loaded.
loaded=$(psql "-d yuju -Atc 'select count(*), count(distinct id) from yuju.contacts'")
[[ "$loaded" == "$contacts|$contacts" ]] || { echo "FAIL: contacts loaded: $loaded, not $contacts"; exit 1; }
joined=$(psql "-d yuju -Atc 'select count(*) from yuju.chat_messages m join yuju.contacts c on m.customer_id = c.id'")
messages=$(psql "-d yuju -Atc 'select count(*) from yuju.chat_messages'")
[[ "$messages" -gt 0 && "$joined" == "$messages" ]] \
  || { echo "FAIL: $joined of $messages message rows join a contact"; exit 1; }
mobile=$(psql "-d yuju -Atc \"select count(*) from information_schema.columns where table_schema = 'yuju'
  and table_name = 'contacts' and column_name in ('mobile', 'email')\"")
[[ "$mobile" == 0 ]] || { echo "FAIL: the contacts table has personal data the catalog left out"; exit 1; }
echo "PostgreSQL: $contacts contacts; all $messages message rows join a contact; no mobile or email"
python3 tests/pipelines/check.py window "$work/run2.requests" "2026-03-05 00:00:00" "2026-03-07 00:00:00"
python3 tests/pipelines/check.py bookmark "$work/meltano.state" "2026-03-07T00:00:00Z"

echo "--- Singer: kill -9 mid-sync, then resume from the target's last state"
slow=$(dated_mock "$work/slow.log" --latency 40ms)
cat > "$work/tap.json" <<JSON
{"api_key": "ci-key", "ids_file": "$work/ids.txt", "start_date": "2026-03-01",
 "end_date": "2026-03-05", "tz": "UTC", "base_url": "http://$slow", "concurrency": 2}
JSON
cat > "$work/target.json" <<JSON
{"host": "127.0.0.1", "port": $port, "user": "postgres", "password": "unused",
 "database": "yuju", "default_target_schema": "killed", "activate_version": false}
JSON
mkfifo "$work/pipe"
target-postgres --config "$work/target.json" < "$work/pipe" > "$work/target1.out" 2> "$work/target1.err" &
target_pid=$!
"$bin/tap-yuju" --config "$work/tap.json" > "$work/pipe" 2> "$work/tap1.err" &
tap_pid=$!
for _ in $(seq 1 300); do
  (( $(grep -c '^request ' "$work/slow.log" || true) >= 16 )) && break
  sleep 0.05
done
kill -9 "$tap_pid"
wait "$tap_pid" 2>/dev/null || true
wait "$target_pid" || { cat "$work/target1.err"; exit 1; }
tail -n 1 "$work/target1.out" > "$work/state.json"
python3 tests/pipelines/check.py in-progress "$work/state.json"
sed -i "s|http://$slow|http://$addr|" "$work/tap.json"
before=$(wc -l < "$work/mock.log")
"$bin/tap-yuju" --config "$work/tap.json" --state "$work/state.json" 2> "$work/tap2.err" \
  | target-postgres --config "$work/target.json" > "$work/target2.out" 2> "$work/target2.err" \
  || { cat "$work/tap2.err" "$work/target2.err"; exit 1; }
tail -n +"$((before + 1))" "$work/mock.log" | grep '^request ' > "$work/resume.requests" || true
truth 2026-03-01 2026-03-05 "$work/truth-window.jsonl"
table killed "$work/killed.jsonl"
python3 tests/pipelines/check.py table "$work/killed.jsonl" "$work/truth-window.jsonl"
python3 tests/pipelines/check.py resumed "$work/state.json" "$work/resume.requests" "$work/ids.txt"

echo "--- PyAirbyte: source-yuju check, discover and read into DuckDB"
cat > "$work/source.json" <<JSON
{"api_key": "ci-key", "ids_file": "$work/ids.txt", "start_date": "2026-03-01",
 "end_date": "2026-03-05", "tz": "UTC", "base_url": "http://$addr"}
JSON
AIRBYTE_OFFLINE_MODE=1 "$pyairbyte/bin/python" tests/pipelines/pyairbyte.py "$bin/source-yuju" "$work/source.json" \
  "$work/airbyte.jsonl" "$contacts" $wheel > "$work/pyairbyte.log" 2>&1 || { cat "$work/pyairbyte.log"; exit 1; }
cat "$work/pyairbyte.log"
python3 tests/pipelines/check.py table "$work/airbyte.jsonl" "$work/truth-window.jsonl"
echo "pipelines ok"
