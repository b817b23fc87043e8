#!/usr/bin/env bash
# Runs the Go toolchain, installing one first on a machine without Go
# (Debian's golang-1.23 from bookworm-backports, which then fetches the
# toolchain go.mod asks for, Go 1.26, through the Go module proxy, as
# GOTOOLCHAIN=auto does).
set -euo pipefail
for g in "$(command -v go 2>/dev/null || true)" /usr/local/go/bin/go; do
  [ -n "$g" ] && [ -x "$g" ] && exec "$g" "$@"
done
[ -x /usr/lib/go-1.23/bin/go ] && GOTOOLCHAIN=auto exec /usr/lib/go-1.23/bin/go "$@"
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "lxkit: no Go toolchain found; install Go 1.26 or newer, or Go 1.23+ with the module proxy reachable (https://go.dev/doc/install)" >&2
  exit 1
fi
bash "$(dirname "$0")/install-hosts.sh" >&2 # adds bookworm-backports if needed
echo "lxkit: installing Go from bookworm-backports" >&2
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -qy install -t bookworm-backports golang-1.23-go >/dev/null
GOTOOLCHAIN=auto exec /usr/lib/go-1.23/bin/go "$@"
