#!/usr/bin/env bash
# lxkit's main job, end to end, on the local LXD (run through `make demo`):
# launch a container from the test image, run commands with live output,
# upload and download a folder, show state and addresses, delete it.
set -euo pipefail
cd "$(dirname "$0")/.."
lxkit() { bin/lxkit "$@"; }
name=lxkit-demo-$$
step() { printf '\n\033[1m$ lxkit'; printf ' %q' "$@"; printf '\033[0m\n'; lxkit "$@"; }
trap 'lxkit delete "$name" >/dev/null 2>&1 || true' EXIT

work=$(mktemp -d)
mkdir -p "$work/site/assets" "$work/back"
echo '<h1>hello from lxkit</h1>' >"$work/site/index.html"
printf 'body { color: teal }\n' >"$work/site/assets/style.css"
ln -s index.html "$work/site/home.html"

step launch "$name" --image testimage
step status "$name"
step wait "$name" ip --timeout 30s
step exec "$name" -- sh -c 'echo "hello from $(hostname)"; uname -sr; for i in 1 2 3; do echo "tick $i"; sleep 0.3; done'
step exec "$name" --user lxkit --cwd /tmp -- sh -c 'echo "I am $(id -un) in $(pwd)"; echo "to stderr" >&2'
step push -r "$work/site" "$name:/srv"
step exec "$name" -- find /srv/site
step pull -r "$name:/srv/site" "$work/back"
echo; echo "downloaded:"; (cd "$work/back" && find . | sort)
diff -r "$work/site" "$work/back/site" && echo "round trip: identical"
step state "$name"
step list lxkit-demo-
step delete "$name"
rm -rf "$work"
