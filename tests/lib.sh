# Shell helpers the CI scripts share (tests/duckdb/run.sh,
# tests/pipelines/run.sh, packaging/check.sh); source it, do not run it.

# A step that installs from a registry is tried twice.
retry_once() {
  "$@" || { echo "--- '$*' failed; retrying once"; sleep 5; "$@"; }
}

# A Python virtual environment NAME with PACKAGES, kept between CI runs in
# the user's cache; prints its directory.
venv_with() { # name packages...
  local venv="${XDG_CACHE_HOME:-$HOME/.cache}/yuju-export-ci/$1-venv"
  shift
  [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv" >&2
  retry_once "$venv/bin/pip" install --quiet --disable-pip-version-check "$@" >&2
  echo "$venv"
}

# Start `BIN mock --addr 127.0.0.1:0 FLAGS...` in the background, its
# stderr in LOG and its pid in LOG.pid; prints the address it listens on.
start_mock() { # bin log flags...
  local bin=$1 log=$2
  shift 2
  "$bin" mock --addr 127.0.0.1:0 "$@" > /dev/null 2> "$log" &
  echo $! > "$log.pid"
  local addr=""
  for _ in $(seq 1 100); do
    addr=$(grep -o 'listening on [0-9.:]*' "$log" | awk '{print $3}' || true)
    [[ -n "$addr" ]] && break
    sleep 0.1
  done
  [[ -n "$addr" ]] || { echo "the simulator did not start" >&2; cat "$log" >&2; return 1; }
  echo "$addr"
}

# Fail unless buildah's image IMAGE is at most 20 MB (buildah prints its
# size as "13.8 MB"); prints the size.
image_at_most_20mb() { # buildah command (with its options), image
  local b=$1 image=$2 size bytes
  size=$($b images --noheading --format '{{.Size}}' "$image" | head -n 1)
  bytes=$(python3 -c "
import re,sys
m=re.match(r'([0-9.]+)\s*([kMG]?B)', sys.argv[1])
print(int(float(m.group(1))*{'B':1,'kB':1e3,'MB':1e6,'GB':1e9}[m.group(2)]))" "$size")
  (( bytes <= 20 * 1000 * 1000 )) || { echo "FAIL: the image $image is $size, over 20 MB" >&2; return 1; }
  echo "$size"
}
