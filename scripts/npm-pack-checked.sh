# Sourced by the fetch scripts. npm_pack_checked TOOL SPEC SHA TARBALL: makes sure TARBALL (in its
# directory) is `npm pack SPEC` with sha256 SHA, packing it when missing or different; a mismatch
# after packing is an error (TOOL names the script in messages) and leaves nothing behind.
npm_pack_checked() {
  local tool=$1 spec=$2 sha=$3 tarball=$4
  mkdir -p "$(dirname "$tarball")"
  if [ ! -f "$tarball" ] || ! echo "$sha  $tarball" | sha256sum -c --status; then
    command -v npm >/dev/null 2>&1 || { echo "$tool: npm not found" >&2; exit 1; }
    echo "$tool: npm pack $spec"
    (cd "$(dirname "$tarball")" && npm pack --silent "$spec" >/dev/null)
  fi
  if ! echo "$sha  $tarball" | sha256sum -c --status; then
    echo "$tool: sha256 mismatch for $spec ($tarball); expected $sha" >&2
    rm -f "$tarball"
    exit 1
  fi
}
