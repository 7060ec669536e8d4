#!/usr/bin/env bash
# Rerun the benchmark: the loopback table (release binary against the
# in-process simulator, peers included) and the criterion CPU micro-benchmark.
# Usage: bench/run.sh [--quick] [latency rate adaptive limits schedule shared cap cpu http memory window hostile parquet pipeline peers]
# Needs cargo; the peer rows also need curl, jq and python3 with requests.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --locked --bench loopback -- "$@"
if [[ " $* " != *" --quick "* ]]; then
  cargo bench --locked --bench cpu
fi
