#!/usr/bin/env bash
# The Debian copyright file: this package's licence, then every crate
# linked into the static build with its licence, from cargo itself.
# Usage: packaging/copyright.sh TARGET
set -euo pipefail
cd "$(dirname "$0")/.."
cat <<HEAD
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: yuju-export

Files: *
Copyright: the yuju-export authors
License: MIT OR Apache-2.0

Comment: Crates linked into the binaries, with their licences:
HEAD
cargo tree --locked --target "$1" --features static-resolver -e normal --prefix none \
  --format '{p} ({l})' | sed 's/ (\*)$//; s/ (proc-macro)//' | sort -u | sed 's/^/ /'
