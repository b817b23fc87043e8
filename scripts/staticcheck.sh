#!/usr/bin/env bash
# Runs staticcheck at the version pinned here, installing it once (through
# the Go module proxy) into lxkit's cache, so every machine checks with the
# same rules. Arguments go to staticcheck.
set -euo pipefail
cd "$(dirname "$0")/.."
version=v0.8.2 # honnef.co/go/tools; bump deliberately
cache=${LXKIT_CACHE:-/var/cache/lxkit}
[ -w "$cache" ] || mkdir -p "$cache" 2>/dev/null || cache=${XDG_CACHE_HOME:-$HOME/.cache}/lxkit
bin=$cache/bin/staticcheck-$version
if [ ! -x "$bin" ]; then
  echo "lxkit: installing staticcheck $version (once)" >&2
  mkdir -p "$cache/bin"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  GOBIN=$tmp scripts/go.sh install "honnef.co/go/tools/cmd/staticcheck@$version"
  mv "$tmp/staticcheck" "$bin"
fi
exec "$bin" "$@"
