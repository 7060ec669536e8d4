#!/usr/bin/env bash
# The shipped alert rules (deploy/alerts.yaml) checked by Prometheus' own
# promtool, installed here from Debian's packages. That every metric they
# use is written by a run is a test of the suite (tests/it/state.rs).
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/lib.sh

if ! command -v promtool > /dev/null; then
  retry_once apt-get update -qq
  retry_once env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus > /dev/null
fi
promtool check rules deploy/alerts.yaml
