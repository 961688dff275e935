#!/bin/sh
# Installs libsieve (component `sieve`) into a temporary prefix, then builds examples/ against the
# installed copy twice, through find_package(sieve) and through pkg-config, and runs the logits
# example from each. Usage: install_check.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

cmake --install "$build" --prefix "$prefix" --component sieve >"$tmp/install.log"
test -f "$prefix/include/sieve/sieve.h" || { echo "sieve.h not installed"; exit 1; }

# 1. CMake: find_package(sieve) -> sieve::sieve
cmake -S "$src/examples" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
  >"$tmp/configure.log" || { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/cmake" >"$tmp/build.log" || { cat "$tmp/build.log"; exit 1; }
out=$("$tmp/cmake/constrain_logits")
echo "find_package build: $out"

# 2. pkg-config
pc=$(dirname "$(find "$prefix" -name sieve.pc | head -n 1)")
test -n "$pc" || { echo "sieve.pc not installed"; exit 1; }
flags=$(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs sieve)
libdir=$(PKG_CONFIG_PATH="$pc" pkg-config --variable=libdir sieve)
cc -std=c99 -Wall -Wextra -pedantic -Werror "$src/examples/constrain_logits.c" $flags -o "$tmp/pc_logits"
out2=$(LD_LIBRARY_PATH="$libdir" "$tmp/pc_logits" --seed 7)
echo "pkg-config build: $out2"

# The example prints a JSON object for the built-in schema.
case "$out" in "{\""*"}") ;; *) echo "unexpected output: $out"; exit 1 ;; esac
case "$out2" in "{\""*"}") ;; *) echo "unexpected output: $out2"; exit 1 ;; esac
echo "install check passed"
