#!/usr/bin/env bash
# Build what a host without a Rust toolchain installs, into dist/, from one
# release build:
#   - dist/yuju-export-<version>-x86_64-linux.tar.gz (and its .sha256): a
#     static x86_64 Linux yuju-export (glibc linked in; a resolver that
#     reads /etc/resolv.conf and /etc/hosts itself; the bundled web roots,
#     plus --ca-cert and SSL_CERT_FILE), with tap-yuju and source-yuju as
#     links to it, the man page, completions for bash, zsh and fish, the
#     example config and the README;
#   - dist/rootfs/: the same binary, its links and a CA bundle, laid out
#     for the container image (packaging/Containerfile, target `local`);
#   - dist/yuju-export_<version>-1_amd64.deb, with --deb (needs cargo-deb).
# Usage: packaging/build.sh [--deb]      (needs cargo and glibc's libc.a)
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-gnu
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
name="yuju-export-$version-x86_64-linux"

# crt-static links glibc in; a non-PIE executable is one the loader is
# never asked for (ldd: "not a dynamic executable"). getrandom's syscall
# backend, not its probe through dlsym, which a static binary cannot
# answer and which then falls back to /dev/urandom: an empty root has no
# /dev.
RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static --cfg getrandom_backend=\"linux_getrandom\"" \
  CARGO_PROFILE_RELEASE_STRIP=symbols \
  cargo build --release --locked --target "$target" --features static-resolver --bin yuju-export
exe="target/$target/release/yuju-export"
loads=$(ldd "$exe" 2>&1 || true)
if [[ "$loads" != *"not a dynamic executable"* ]]; then
  echo "packaging/build.sh: $exe is not static: $loads"; exit 1
fi

# What the archive, the image and the package share.
gen="target/packaging"
rm -rf "$gen"
mkdir -p "$gen/completions"
"$exe" man > "$gen/yuju-export.1"
gzip -9n -c "$gen/yuju-export.1" > "$gen/yuju-export.1.gz"
"$exe" completions bash > "$gen/completions/yuju-export"
"$exe" completions zsh > "$gen/completions/_yuju-export"
"$exe" completions fish > "$gen/completions/yuju-export.fish"
packaging/copyright.sh "$target" > "$gen/copyright"

rm -rf "dist/$name" "dist/$name.tar.gz" "dist/$name.tar.gz.sha256" dist/rootfs
mkdir -p "dist/$name/completions"
install -m 0755 "$exe" "dist/$name/yuju-export"
ln -s yuju-export "dist/$name/tap-yuju"
ln -s yuju-export "dist/$name/source-yuju"
install -m 0644 "$gen/yuju-export.1" "dist/$name/"
install -m 0644 "$gen"/completions/* "dist/$name/completions/"
install -m 0644 config/yuju-export.example.toml README.md "$gen/copyright" "dist/$name/"
# The README's links lead into docs/ (and bench/RESULTS.md, CONTRIBUTING.md).
install -d "dist/$name/docs" "dist/$name/bench" "dist/$name/deploy"
install -m 0644 docs/*.md "dist/$name/docs/"
install -m 0644 bench/RESULTS.md "dist/$name/bench/"
install -m 0644 deploy/*.yaml "dist/$name/deploy/"
install -m 0644 CONTRIBUTING.md CHANGELOG.md "dist/$name/"
tar -C dist --owner=0 --group=0 --numeric-owner --sort=name -czf "dist/$name.tar.gz" "$name"
(cd dist && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")

mkdir -p dist/rootfs/usr/local/bin dist/rootfs/etc/ssl/certs
install -m 0755 "$exe" dist/rootfs/usr/local/bin/yuju-export
ln -s yuju-export dist/rootfs/usr/local/bin/tap-yuju
ln -s yuju-export dist/rootfs/usr/local/bin/source-yuju
install -m 0644 /etc/ssl/certs/ca-certificates.crt dist/rootfs/etc/ssl/certs/ca-certificates.crt

if [[ "${1:-}" == "--deb" ]]; then
  cargo deb --no-build --target "$target" --output dist/
fi
ls -l dist/
