#!/bin/sh
# Usage: fetch-kernel.sh CACHE_DIR
#
# Makes sure CACHE_DIR holds the .deb of Debian's cloud kernel and prints its
# path. The package is whatever `linux-image-cloud-amd64` (a meta package)
# depends on in the host's apt sources, fetched with `apt-get download` (no
# installation, no root needed). A kernel already in CACHE_DIR is reused, so
# repeated test runs, and CI runs with a warm cache, need no network.
# Used by the QEMU test's guest builder and by .ci/run (to fetch it early).
set -eu

dir=${1:?usage: fetch-kernel.sh CACHE_DIR}
meta=${TRUSTCLOUD_GUEST_KERNEL_PACKAGE:-linux-image-cloud-amd64}
mkdir -p "$dir"
cd "$dir"

cached() {
  ls linux-image-[0-9]*-cloud-amd64_*.deb 2>/dev/null | LC_ALL=C sort -V | tail -n 1
}

deb=$(cached || true)
if [ -z "$deb" ]; then
  command -v apt-get >/dev/null 2>&1 || {
    echo "fetch-kernel: apt-get not found; the QEMU test needs a Debian-family host to fetch $meta" >&2
    exit 1
  }
  if ! apt-get download "$meta" >&2; then
    echo "fetch-kernel: 'apt-get download $meta' failed (no network, or run 'apt-get update' first)" >&2
    exit 1
  fi
  metadeb=$(ls "$meta"_*.deb | LC_ALL=C sort -V | tail -n 1)
  kernel=$(dpkg-deb -f "$metadeb" Depends | tr ',' '\n' |
    sed -n 's/^ *\(linux-image-[0-9][^ ]*-cloud-amd64\).*/\1/p' | head -n 1)
  if [ -z "$kernel" ]; then
    echo "fetch-kernel: $metadeb depends on no linux-image-*-cloud-amd64 package" >&2
    exit 1
  fi
  if ! apt-get download "$kernel" >&2; then
    echo "fetch-kernel: 'apt-get download $kernel' failed" >&2
    exit 1
  fi
  deb=$(cached)
fi
[ -n "$deb" ] && [ -s "$deb" ] || {
  echo "fetch-kernel: no kernel package in $dir after download" >&2
  exit 1
}
echo "$dir/$deb"
