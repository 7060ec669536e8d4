#!/usr/bin/env bash
# Check the Airbyte platform's image as the platform runs it, loaded from
# dist/source-yuju-<version>.oci.tar with buildah: the labels, the user, at
# most 20 MB, AIRBYTE_ENTRYPOINT equal to the entrypoint; then spec, check,
# discover and read (of both streams, against the simulator on loopback),
# each run both as the entrypoint and as the platform's wrapper runs it,
# through `sh -c "$AIRBYTE_ENTRYPOINT <args>"`. Every stdout line must
# parse as an AirbyteMessage (the protocol's own models, from PyPI).
# Usage: packaging/check-airbyte.sh      (as root, after packaging/build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
work=$(mktemp -d)
chmod 755 "$work"
b="buildah --storage-driver vfs"
cleanup() {
  kill $(cat "$work"/*.pid 2>/dev/null) 2>/dev/null || true
  if [[ -n "${ctr:-}" ]]; then $b rm "$ctr" > /dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
source tests/lib.sh
fail() { echo "FAIL: $*"; exit 1; }

echo "--- the Airbyte image, loaded from dist/source-yuju-$version.oci.tar"
image="localhost/source-yuju:$version"
$b rmi "$image" > /dev/null 2>&1 || true
$b pull --quiet "oci-archive:dist/source-yuju-$version.oci.tar" > /dev/null || fail "buildah pull of the OCI archive"
$b inspect --type image "$image" > "$work/inspect.json"
python3 - "$work/inspect.json" "$version" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))["OCIv1"]["config"]
labels = config.get("Labels") or {}
if labels.get("io.airbyte.name") != "airbyte/source-yuju" or labels.get("io.airbyte.version") != sys.argv[2]:
    sys.exit(f"FAIL: the io.airbyte labels are {labels}")
env = dict(e.split("=", 1) for e in config.get("Env", []))
if config.get("Entrypoint") != [env.get("AIRBYTE_ENTRYPOINT")]:
    sys.exit(f"FAIL: the entrypoint {config.get('Entrypoint')} is not AIRBYTE_ENTRYPOINT {env.get('AIRBYTE_ENTRYPOINT')}")
if config.get("User") != "65532:65532":
    sys.exit(f"FAIL: the image runs as {config.get('User')!r}")
print("labels, entrypoint, AIRBYTE_ENTRYPOINT and user ok")
PY
size=$(image_at_most_20mb "$b" "$image") || fail "the image is over 20 MB"

# The simulator on the host's loopback, which the chroot-isolated
# container shares.
addr=$(start_mock "dist/yuju-export-$version-x86_64-linux/yuju-export" "$work/mock.log" --key ab-key \
  --chat-dates 2026-03-01..2026-03-11 --contacts 12)
mkdir -m 0777 "$work/data"
cat > "$work/data/config.json" <<JSON
{"api_key": "ab-key", "all_contacts": true, "start_date": "2026-03-01", "end_date": "2026-03-05",
 "tz": "UTC", "base_url": "http://$addr"}
JSON
chmod 644 "$work/data/config.json"
ctr=$($b from "$image")
entrypoint=$($b inspect --type image --format '{{index .OCIv1.Config.Entrypoint 0}}' "$image")
run() { # how (entrypoint or shell), output, args...
  local how=$1 out=$2
  shift 2
  if [[ "$how" == entrypoint ]]; then
    $b run --isolation chroot --user 65532:65532 -v "$work/data:/data:rw" "$ctr" -- "$entrypoint" "$@" > "$out"
  else
    $b run --isolation chroot --user 65532:65532 -v "$work/data:/data:rw" "$ctr" -- \
      /bin/sh -c "\$AIRBYTE_ENTRYPOINT $*" > "$out"
  fi
}
run entrypoint "$work/discover.out" discover --config /data/config.json || fail "discover in the image"
python3 - "$work/discover.out" "$work/data/catalog.json" <<'PY'
import json, sys
streams = {s["name"]: s for s in json.loads(open(sys.argv[1]).readline())["catalog"]["streams"]}
catalog = {"streams": [
    {"stream": streams["contacts"], "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"},
    {"stream": streams["chat_messages"], "sync_mode": "incremental", "destination_sync_mode": "append_dedup",
     "cursor_field": ["window_end"], "primary_key": [["customer_id"], ["chat_id"], ["seq"]]},
]}
json.dump(catalog, open(sys.argv[2], "w"))
PY
chmod 644 "$work/data/catalog.json"
pyairbyte=$(venv_with pyairbyte airbyte airbyte-protocol-models)
for how in entrypoint shell; do
  run "$how" "$work/spec.$how" spec || fail "spec ($how)"
  run "$how" "$work/check.$how" check --config /data/config.json || fail "check ($how)"
  run "$how" "$work/discover.$how" discover --config /data/config.json || fail "discover ($how)"
  run "$how" "$work/read.$how" read --config /data/config.json --catalog /data/catalog.json || fail "read ($how)"
  "$pyairbyte/bin/python" - "$how" "$work"/{spec,check,discover,read}."$how" <<'PY'
import json, sys
from airbyte_protocol.models import AirbyteMessage
parse = getattr(AirbyteMessage, "model_validate_json", None) or AirbyteMessage.parse_raw
how, files = sys.argv[1], sys.argv[2:]
counts = {}
for path in files:
    for line in open(path, encoding="utf-8"):
        message = parse(line)
        counts[message.type.value] = counts.get(message.type.value, 0) + 1
        if message.type.value == "CONNECTION_STATUS" and message.connectionStatus.status.value != "SUCCEEDED":
            sys.exit(f"FAIL: check ({how}) says {line}")
        if message.type.value == "RECORD":
            counts[message.record.stream] = counts.get(message.record.stream, 0) + 1
if not counts.get("contacts") or not counts.get("chat_messages"):
    sys.exit(f"FAIL: the read ({how}) holds {counts}")
print(f"{how}: every line an AirbyteMessage: {counts}")
PY
done
cmp -s "$work/discover.entrypoint" "$work/discover.shell" || fail "discover differs through the shell"
echo "airbyte image ok: $size, spec, check, discover and read as the entrypoint and through sh -c \$AIRBYTE_ENTRYPOINT"
