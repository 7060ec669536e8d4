#!/usr/bin/env bash
# Build everything a host without a Rust toolchain installs, into dist/, in
# one run, offline:
#   - yuju-export-<version>-x86_64-linux.tar.gz: a static x86_64 Linux
#     yuju-export (glibc linked in; a resolver that reads /etc/resolv.conf
#     and /etc/hosts itself; the bundled web roots, plus --ca-cert and
#     SSL_CERT_FILE), with tap-yuju and source-yuju as links to it, the man
#     page, completions for bash, zsh and fish, the example config and the
#     docs; and its .sha256;
#   - yuju-export_<version>-1_amd64.deb (tap-yuju and source-yuju are links
#     the package owns);
#   - yuju_export-<version>-py3-none-manylinux…_x86_64.whl: the same static
#     build of yuju-export, tap-yuju and source-yuju as a wheel (maturin,
#     bin bindings) that pip, pipx and uv put on PATH;
#   - yuju-export-<version>.oci.tar: the image (FROM scratch, no shell);
#   - source-yuju-<version>.oci.tar: the image for the Airbyte platform
#     (a static busybox sh, AIRBYTE_ENTRYPOINT, the io.airbyte labels);
#   - SHA256SUMS over all of them.
# The images are OCI archives: `podman load -i` or `docker load -i`, then
# tag and push. dist/rootfs/ and dist/rootfs-airbyte/ are their roots.
# Needs: cargo and glibc's libc.a, cargo-deb, maturin, buildah and a static
# busybox (Debian: busybox-static); each is named when it is missing.
# Usage: packaging/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-gnu
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
name="yuju-export-$version-x86_64-linux"

need() { # command, how to get it
  command -v "$1" > /dev/null || { echo "packaging/build.sh: $1 is missing: $2" >&2; exit 1; }
}
need cargo "https://rustup.rs"
need cargo-deb "cargo install cargo-deb --version 3.8.0 --locked"
need maturin "pip install maturin (or pipx install maturin)"
need buildah "apt-get install buildah"
busybox=$(command -v busybox || true)
if [[ -z "$busybox" || "$(ldd "$busybox" 2>&1 || true)" != *"not a dynamic executable"* ]]; then
  echo "packaging/build.sh: a static busybox is missing: apt-get install busybox-static" >&2
  exit 1
fi

# crt-static links glibc in; a non-PIE executable is one the loader is
# never asked for (ldd: "not a dynamic executable"). getrandom's syscall
# backend, not its probe through dlsym, which a static binary cannot
# answer and which then falls back to /dev/urandom: an empty root has no
# /dev. maturin builds the three executables with these flags for the
# wheel; the archive, the package and the images take yuju-export from
# the same build.
export RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static --cfg getrandom_backend=\"linux_getrandom\""
export CARGO_PROFILE_RELEASE_STRIP=symbols
rm -f dist/yuju_export-*.whl
maturin build --release --locked --target "$target" --compatibility manylinux2014 --out dist
cargo build --release --locked --target "$target" --features static-resolver --bin yuju-export
exe="target/$target/release/yuju-export"
for built in "$exe" "target/$target/release/tap-yuju" "target/$target/release/source-yuju"; do
  loads=$(ldd "$built" 2>&1 || true)
  if [[ "$loads" != *"not a dynamic executable"* ]]; then
    echo "packaging/build.sh: $built is not static: $loads"; exit 1
  fi
done

# What the archive, the images and the package share.
gen="target/packaging"
rm -rf "$gen"
mkdir -p "$gen/completions"
"$exe" man > "$gen/yuju-export.1"
gzip -9n -c "$gen/yuju-export.1" > "$gen/yuju-export.1.gz"
"$exe" completions bash > "$gen/completions/yuju-export"
"$exe" completions zsh > "$gen/completions/_yuju-export"
"$exe" completions fish > "$gen/completions/yuju-export.fish"
packaging/copyright.sh "$target" > "$gen/copyright"

rm -rf "dist/$name" "dist/$name.tar.gz" "dist/$name.tar.gz.sha256" dist/rootfs dist/rootfs-airbyte
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

# The images' roots: the binary, its links and a CA bundle; the Airbyte
# platform's wrapper needs a shell too.
mkdir -p dist/rootfs/usr/local/bin dist/rootfs/etc/ssl/certs
install -m 0755 "$exe" dist/rootfs/usr/local/bin/yuju-export
ln -s yuju-export dist/rootfs/usr/local/bin/tap-yuju
ln -s yuju-export dist/rootfs/usr/local/bin/source-yuju
install -m 0644 /etc/ssl/certs/ca-certificates.crt dist/rootfs/etc/ssl/certs/ca-certificates.crt
cp -a dist/rootfs dist/rootfs-airbyte
mkdir -p dist/rootfs-airbyte/bin
install -m 0755 "$busybox" dist/rootfs-airbyte/bin/busybox
ln -s busybox dist/rootfs-airbyte/bin/sh

rm -f dist/yuju-export_*.deb
cargo deb --no-build --target "$target" --output dist/

# The images, built offline from those roots, saved as OCI archives.
b="buildah --storage-driver vfs"
for image in yuju-export source-yuju; do
  stage=local
  [[ "$image" == source-yuju ]] && stage=source-yuju
  $b build --isolation chroot --target "$stage" -f packaging/Containerfile \
    --build-arg VERSION="$version" -t "localhost/$image:$version" . > "target/packaging/$image-build.log" 2>&1 \
    || { cat "target/packaging/$image-build.log"; exit 1; }
  rm -f "dist/$image-$version.oci.tar"
  $b push --quiet "localhost/$image:$version" "oci-archive:dist/$image-$version.oci.tar:$image:$version"
done

(cd dist && rm -f SHA256SUMS && sha256sum "$name.tar.gz" yuju-export_*.deb yuju_export-*.whl \
  "yuju-export-$version.oci.tar" "source-yuju-$version.oci.tar" > SHA256SUMS)
ls -l dist/
