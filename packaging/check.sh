#!/usr/bin/env bash
# Check what packaging/build.sh left in dist/, as a user's machine would use
# it, each artifact taken from dist/ (SHA256SUMS checked first):
#   1. the archive: its checksum, a binary with nothing to load, and a real
#      export run inside an empty root (chroot) holding only the archive,
#      /etc/hosts and /etc/resolv.conf: a host name resolves through
#      /etc/hosts, and demo writes its rows;
#   2. the Debian package: installed with apt-get, run from PATH (all three
#      names; the links are the package's), upgraded over, removed (dpkg -r
#      keeps only the conffile) and purged;
#   3. the image, loaded from its OCI archive with buildah: no shell, user
#      65532, the OCI labels, at most 20 MB, and demo run inside it;
#   4. the Airbyte image and the wheel (packaging/check-airbyte.sh,
#      packaging/check-wheel.sh).
# Usage: packaging/check.sh      (as root: chroot, apt-get, buildah)
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
name="yuju-export-$version-x86_64-linux"
work=$(mktemp -d)
chmod 755 "$work"
cleanup() {
  kill $(cat "$work"/*.pid 2>/dev/null) "${proxy_pid:-}" 2>/dev/null || true
  if [[ -n "${ctr:-}" ]]; then buildah --storage-driver vfs rm "$ctr" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
source tests/lib.sh
fail() { echo "FAIL: $*"; exit 1; }

echo "--- dist/SHA256SUMS"
(cd dist && sha256sum -c SHA256SUMS)

echo "--- the archive in an empty root"
(cd dist && sha256sum -c "$name.tar.gz.sha256")
root="$work/root"
mkdir -p "$root/etc" "$root/tmp"
tar -C "$root" -xzf "dist/$name.tar.gz"
exe="$root/$name/yuju-export"
loads=$(ldd "$exe" 2>&1 || true)
[[ "$loads" == *"not a dynamic executable"* ]] || fail "$exe loads libraries: $loads"
for file in tap-yuju source-yuju yuju-export.1 completions/yuju-export completions/_yuju-export \
  completions/yuju-export.fish yuju-export.example.toml README.md copyright \
  docs/reference.md docs/scheduling.md bench/RESULTS.md deploy/alerts.yaml; do
  [[ -e "$root/$name/$file" ]] || fail "the archive lacks $file"
done
echo "127.0.0.1 localhost yuju-sim.test" > "$root/etc/hosts"
echo "nameserver 127.0.0.1" > "$root/etc/resolv.conf"
chroot "$root" "/$name/yuju-export" demo --customers 50 --dir /tmp/demo --progress never > "$work/demo.log" 2>&1 \
  || { cat "$work/demo.log"; fail "demo in the empty root"; }
[[ -s "$root/tmp/demo/chats.csv" ]] || fail "demo wrote no rows"
# A host name, resolved from the root's /etc/hosts by the binary itself.
addr=$(start_mock "dist/$name/yuju-export" "$work/mock.log" --key pkg-key) || fail "the simulator did not start"
port=${addr##*:}
# The simulator lists 50 contacts, the demo's 50 customers.
YUJU_API_KEY=pkg-key chroot "$root" "/$name/yuju-export" export --base-url "http://yuju-sim.test:$port" \
  --allow-insecure-http --all-contacts --out /tmp/hosts.csv --progress never -q > "$work/hosts.log" 2>&1 \
  || { cat "$work/hosts.log"; fail "an export to a host named in /etc/hosts"; }
cmp -s <(sort "$root/tmp/hosts.csv") <(sort "$root/tmp/demo/chats.csv") \
  || echo "note: the demo's faults make its rows differ in order only"
[[ $(wc -l < "$root/tmp/hosts.csv") -eq $(wc -l < "$root/tmp/demo/chats.csv") ]] \
  || fail "the export through /etc/hosts wrote other rows than demo"
# TLS with a private CA, through --ca-cert and through SSL_CERT_FILE; and
# refused without it (the bundled roots do not know this CA).
tls="$work/tls"
mkdir "$tls"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tls/ca.key" -out "$tls/ca.pem" -days 2 \
  -subj "/CN=yuju-export test CA" 2> /dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$tls/server.key" -out "$tls/server.csr" \
  -subj "/CN=yuju-sim.test" 2> /dev/null
printf 'subjectAltName=DNS:yuju-sim.test\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$tls/ext"
openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial \
  -out "$tls/server.pem" -days 2 -extfile "$tls/ext" 2> /dev/null
python3 packaging/tls_proxy.py "$tls/server.pem" "$tls/server.key" "$addr" > "$tls/proxy.log" 2>&1 &
proxy_pid=$!
tls_port=""
for _ in $(seq 1 100); do
  tls_port=$(awk '/listening on/ {print $3}' "$tls/proxy.log")
  [[ -n "$tls_port" ]] && break
  sleep 0.1
done
[[ -n "$tls_port" ]] || fail "the TLS front did not start"
cp "$tls/ca.pem" "$root/tmp/ca.pem"
tail -n +2 "$root/tmp/demo/contacts.csv" | head -n 10 | cut -d, -f1 > "$root/tmp/ten.txt"
tls_export() { # out, extra arguments...
  local out=$1
  shift
  YUJU_API_KEY=pkg-key chroot "$root" "/$name/yuju-export" export --base-url "https://yuju-sim.test:$tls_port" \
    --ids /tmp/ten.txt --out "$out" --progress never -q "$@"
}
tls_export /tmp/tls-flag.csv --ca-cert /tmp/ca.pem > "$work/tls1.log" 2>&1 || { cat "$work/tls1.log"; fail "TLS with --ca-cert"; }
SSL_CERT_FILE=/tmp/ca.pem tls_export /tmp/tls-env.csv > "$work/tls2.log" 2>&1 \
  || { cat "$work/tls2.log"; fail "TLS with SSL_CERT_FILE"; }
if tls_export /tmp/tls-none.csv > "$work/tls3.log" 2>&1; then fail "a private CA was trusted without being given"; fi
grep -q "certificate" "$work/tls3.log" || { cat "$work/tls3.log"; fail "the refusal does not name the certificate"; }
kill "$proxy_pid" 2>/dev/null || true
about=$(chroot "$root" "/$name/tap-yuju" --about --format json)
[[ "$about" == *'"name":"tap-yuju"'* ]] || fail "tap-yuju is not the tap"
echo "archive ok: static, ran in an empty root, resolved yuju-sim.test from /etc/hosts, trusted a private CA by --ca-cert and SSL_CERT_FILE"

echo "--- the Debian package"
deb=$(ls dist/yuju-export_*_amd64.deb)
retry_once apt-get install -y -qq "./$deb" > "$work/apt.log" 2>&1 || { cat "$work/apt.log"; fail "apt-get install"; }
(cd "$work" && yuju-export demo --customers 20 --dir pkgdemo --progress never > demo.log 2>&1) \
  || { cat "$work/demo.log"; fail "demo from PATH"; }
[[ -s "$work/pkgdemo/chats.csv" ]] || fail "demo from PATH wrote no rows"
[[ "$(tap-yuju --about --format json)" == *'"name":"tap-yuju"'* ]] || fail "tap-yuju from PATH"
[[ "$(source-yuju spec)" == *'"type":"SPEC"'* ]] || fail "source-yuju from PATH"
for link in tap-yuju source-yuju; do
  [[ "$(readlink "/usr/bin/$link")" == yuju-export ]] || fail "/usr/bin/$link is not a link to yuju-export"
  [[ "$(dpkg -S "/usr/bin/$link")" == "yuju-export: /usr/bin/$link" ]] || fail "dpkg -S does not name the package of $link"
done
man -w yuju-export > /dev/null 2>&1 || [[ -e /usr/share/man/man1/yuju-export.1.gz ]] || fail "no man page"
units=(/usr/lib/systemd/system/yuju-export.service /usr/lib/systemd/system/yuju-export.timer)
if ! command -v systemd-analyze > /dev/null; then
  retry_once env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd > "$work/apt-systemd.log" 2>&1 \
    || { cat "$work/apt-systemd.log"; fail "apt-get install systemd"; }
fi
systemd-analyze verify "${units[@]}" || fail "systemd-analyze verify of the units"
grep -q '^OnCalendar=.* Asia/Shanghai$' "${units[1]}" || fail "the timer does not name its zone"
grep -q '^ExecStart=.* --config /etc/yuju-export/yuju-export.toml --api-key-file [^ ]*$' "${units[0]}" \
  || fail "the service forces settings besides --config and the key"
grep -q '^ReadWritePaths=-/var/lib/node_exporter/textfile_collector$' "${units[0]}" \
  || fail "the service cannot write node_exporter's textfile directory"
# The packaged config names what the unit forces (a unit test parses it).
grep -q -- "--api-key-file" /etc/yuju-export/yuju-export.toml || fail "the config does not name what the unit forces"

# An upgrade: a higher version over this one keeps the admin's conffile and
# the state, and reloads the units.
mkdir -p /var/lib/yuju-export
echo '{"window_end": "2026-11-26T00:00:00+08:00"}' > /var/lib/yuju-export/state.json
echo '# an admin was here' >> /etc/yuju-export/yuju-export.toml
upgrade_dir=$(mktemp -d)
cargo deb --no-build --target x86_64-unknown-linux-gnu --deb-version 0.1.0-99 --output "$upgrade_dir/" > "$work/deb-upgrade.log" 2>&1 \
  || { cat "$work/deb-upgrade.log"; fail "cargo deb of the upgrade"; }
dpkg-deb -e "$upgrade_dir"/yuju-export_0.1.0-99_amd64.deb "$upgrade_dir/control"
grep -q "daemon-reload" "$upgrade_dir/control/postinst" || fail "the postinst does not reload the units"
grep -q "deb-systemd-invoke stop yuju-export.timer" "$upgrade_dir/control/prerm" || fail "the prerm does not stop the timer"
grep -q "deb-systemd-helper purge" "$upgrade_dir/control/postrm" || fail "the postrm does not forget the units on purge"
DEBIAN_FRONTEND=noninteractive dpkg --force-confold -i "$upgrade_dir"/yuju-export_0.1.0-99_amd64.deb > "$work/upgrade.log" 2>&1 \
  || { cat "$work/upgrade.log"; fail "dpkg -i of the upgrade"; }
[[ "$(dpkg-query -W -f '${Version}' yuju-export)" == "0.1.0-99" ]] || fail "the upgrade is not installed"
grep -q '# an admin was here' /etc/yuju-export/yuju-export.toml || fail "the upgrade replaced the admin's conffile"
[[ -s /var/lib/yuju-export/state.json ]] || fail "the upgrade lost the state"
rm -rf "$upgrade_dir"

dpkg -L yuju-export > "$work/files"
dpkg -r yuju-export > /dev/null
while read -r f; do
  [[ -d "$f" ]] && continue
  if [[ "$f" == /etc/yuju-export/yuju-export.toml ]]; then
    [[ -e "$f" ]] || fail "dpkg -r removed the conffile"
  elif [[ -e "$f" || -L "$f" ]]; then
    fail "dpkg -r left $f"
  fi
done < "$work/files"
for link in /usr/bin/tap-yuju /usr/bin/source-yuju; do [[ ! -e "$link" ]] || fail "dpkg -r left $link"; done
[[ -s /var/lib/yuju-export/state.json ]] || fail "dpkg -r removed the state"
dpkg -P yuju-export > /dev/null
[[ ! -e /etc/yuju-export/yuju-export.toml ]] || fail "dpkg -P left the conffile"
[[ -s /var/lib/yuju-export/state.json ]] || fail "dpkg -P removed the state, which is the admin's"
rm -rf /var/lib/yuju-export
echo "package ok: installed, units verified, ran from PATH, upgraded over (conffile and state kept), removed, purged"

echo "--- the image, loaded from dist/yuju-export-$version.oci.tar"
b="buildah --storage-driver vfs"
$b rmi "localhost/yuju-export:$version" > /dev/null 2>&1 || true
$b pull --quiet "oci-archive:dist/yuju-export-$version.oci.tar" > /dev/null || fail "buildah pull of the OCI archive"
$b inspect --type image "localhost/yuju-export:$version" > "$work/inspect.json"
python3 - "$work/inspect.json" "$version" <<'PY'
import json, sys
info = json.load(open(sys.argv[1]))
config = info["OCIv1"]["config"]
labels = config.get("Labels") or {}
for key in ("org.opencontainers.image.source", "org.opencontainers.image.version", "org.opencontainers.image.licenses"):
    if not labels.get(key):
        sys.exit(f"FAIL: the image has no label {key}")
if labels["org.opencontainers.image.version"] != sys.argv[2]:
    sys.exit("FAIL: the version label is not the package's")
if config.get("User") != "65532:65532":
    sys.exit(f"FAIL: the image runs as {config.get('User')!r}")
if config.get("Entrypoint") != ["/usr/local/bin/yuju-export"]:
    sys.exit(f"FAIL: the entrypoint is {config.get('Entrypoint')}")
print("labels, user and entrypoint ok")
PY
size=$(image_at_most_20mb "$b" "localhost/yuju-export:$version") || fail "the image is over 20 MB"
ctr=$($b from "localhost/yuju-export:$version")
if $b run --isolation chroot "$ctr" -- /bin/sh -c true > /dev/null 2>&1; then
  fail "the image has a shell"
fi
mkdir -m 0777 "$work/data"
$b run --isolation chroot --user 65532:65532 -v "$work/data:/data:rw" "$ctr" -- \
  /usr/local/bin/yuju-export demo --customers 30 --dir /data/demo --progress never > "$work/image-demo.log" 2>&1 \
  || { cat "$work/image-demo.log"; fail "demo in the image"; }
[[ -s "$work/data/demo/chats.csv" ]] || fail "demo in the image wrote no rows"
echo "image ok: $size, no shell, user 65532, demo ran inside it"

packaging/check-airbyte.sh
packaging/check-wheel.sh

echo "--- the Kubernetes manifest, against the Kubernetes schemas"
venv=$(venv_with kubernetes kubernetes-validate)
"$venv/bin/kubernetes-validate" --strict deploy/cronjob.yaml
grep -q "image: registry.example.com/yuju-export:$version" deploy/cronjob.yaml \
  || fail "deploy/cronjob.yaml does not name the image this version builds"
echo "packaging ok"
