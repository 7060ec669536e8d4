#!/usr/bin/env bash
# Check the wheel as an analyst installs it: auditwheel (PyPI) finds it a
# manylinux wheel that loads no library; `pipx install` of the file, with
# no package index for it (`--no-index`: it needs nothing but itself; pipx
# may refresh its own pip first), puts yuju-export, tap-yuju and
# source-yuju on PATH; demo runs from there. (Meltano's pip_url and
# PyAirbyte's pip_url install the same file in tests/pipelines/run.sh.)
# Usage: packaging/check-wheel.sh      (after packaging/build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source tests/lib.sh
fail() { echo "FAIL: $*"; exit 1; }

echo "--- the wheel, audited and installed with pipx"
wheel=$(ls dist/yuju_export-*.whl)
tools=$(venv_with wheel maturin auditwheel pipx)
"$tools/bin/auditwheel" show "$wheel" > "$work/audit.txt" || { cat "$work/audit.txt"; fail "auditwheel show"; }
grep -q 'consistent with the following platform tag: "manylinux' "$work/audit.txt" \
  || { cat "$work/audit.txt"; fail "the wheel is not manylinux"; }
grep -q "requires no external shared libraries" "$work/audit.txt" \
  || { cat "$work/audit.txt"; fail "the wheel loads libraries"; }
[[ "$wheel" == *manylinux* ]] || fail "$wheel has no manylinux tag"
export PIPX_HOME="$work/pipx" PIPX_BIN_DIR="$work/bin"
retry_once "$tools/bin/pipx" install --pip-args=--no-index "$wheel" > "$work/pipx.log" 2>&1 \
  || { cat "$work/pipx.log"; fail "pipx install"; }
for exe in yuju-export tap-yuju source-yuju; do
  [[ -x "$work/bin/$exe" ]] || fail "pipx put no $exe on PATH"
done
(cd "$work" && PATH="$work/bin:$PATH" yuju-export demo --customers 20 --dir demo --progress never > demo.log 2>&1) \
  || { cat "$work/demo.log"; fail "demo from the wheel"; }
[[ -s "$work/demo/chats.csv" && -s "$work/demo/contacts.csv" ]] || fail "demo from the wheel wrote no rows"
[[ "$(PATH="$work/bin:$PATH" tap-yuju --about --format json)" == *'"name":"tap-yuju"'* ]] || fail "tap-yuju from the wheel"
[[ "$(PATH="$work/bin:$PATH" source-yuju spec)" == *'"type":"SPEC"'* ]] || fail "source-yuju from the wheel"
echo "wheel ok: $(basename "$wheel"), $(du -h "$wheel" | cut -f1), manylinux, pipx installed it with no index, demo ran from PATH"
