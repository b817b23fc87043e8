#!/usr/bin/env bash
# Builds once (cached in /var/cache/lxkit) a small local Debian package
# source for the cloud-config tests: a few real bookworm packages that the
# nested image (Debian bookworm) does not have, fetched with apt-get
# download, and indexed with dpkg-scanpackages as a flat repository (no
# signature: the tests' sources line says [trusted=yes]). Run by `make
# hosts`. Idempotent and quiet when it is there.
#
# What a test can rely on (testkit/debrepo reads it):
#   - $cache/debrepo-vN/ holds the .deb files, Packages, Packages.gz and
#     Release; serve the folder over HTTP and point apt at it with
#     "deb [trusted=yes] http://ADDRESS:PORT/ ./".
#   - hello and sl (which depends on libncurses6, also there) install on
#     a bookworm container that has only libc6 and libtinfo6 of theirs;
#   - libwayland-egl1 is there in two versions (bookworm's and
#     bookworm-backports', or bookworm's repacked as VERSION+lxkit1 where
#     this machine's apt has no backports), for package_upgrade.
set -euo pipefail

cache=${LXKIT_CACHE:-/var/cache/lxkit}
# Bump v1 when the packages or the layout change.
repo=$cache/debrepo-v1
packages=(hello sl libncurses6)
twice=libwayland-egl1 # two versions

die() { echo "lxkit debrepo: $*" >&2; exit 1; }

[ -f "$repo/Release" ] && exit 0
[ "$(id -u)" -eq 0 ] || die "must run as root: sudo make hosts"
command -v apt-get >/dev/null || die "no apt-get on this machine: the package source is made of Debian's packages"

apt() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q "$@"; }
if ! command -v dpkg-scanpackages >/dev/null; then
  out=$(apt install -y --no-install-recommends dpkg-dev 2>&1) ||
    die "could not install dpkg-dev (dpkg-scanpackages) with apt-get: $(tail -n 3 <<<"$out")"
fi

# One build at a time (tests may run this in parallel).
mkdir -p "$cache"
exec 9>"$cache/.debrepo.lock"
flock 9
[ -f "$repo/Release" ] && exit 0

t=$(mktemp -d "$cache/.debrepo.XXXXXX")
trap 'rm -rf "$t"' EXIT
cd "$t"

# download PKG...: apt-get download as root into the current folder (the
# _apt sandbox user cannot write here); with stale lists, update once.
download() {
  local out
  out=$(apt -o APT::Sandbox::User=root download "$@" 2>&1) && return 0
  [ -z "${updated:-}" ] || { echo "$out" >&2; return 1; }
  updated=1
  apt update >/dev/null 2>&1 || true
  apt -o APT::Sandbox::User=root download "$@" >/dev/null 2>&1
}
download "${packages[@]}" "$twice/bookworm" || die "apt-get download ${packages[*]} $twice/bookworm failed"
if ! download "$twice/bookworm-backports" 2>/dev/null; then
  # No backports here: the same package, repacked as a newer version.
  old=$(ls "$twice"_*.deb)
  dpkg-deb -R "$old" newer
  sed -i 's/^Version: .*/&+lxkit1/' newer/DEBIAN/control
  dpkg-deb -b newer "${twice}_$(dpkg-deb -f "$old" Version)+lxkit1_$(dpkg-deb -f "$old" Architecture).deb" >/dev/null
  rm -rf newer
fi
[ "$(ls "$twice"_*.deb | wc -l)" -eq 2 ] || die "want two versions of $twice, have: $(ls "$twice"_*.deb)"

dpkg-scanpackages --multiversion . /dev/null 2>/dev/null >Packages || die "dpkg-scanpackages failed"
gzip -9nk Packages
# A Release file, so that apt takes the flat repository without warning
# that there is none (unsigned: the sources line trusts it).
{
  echo "Origin: lxkit"
  echo "Label: lxkit test packages"
  echo "Date: $(LC_ALL=C date -u -R)"
  echo "SHA256:"
  for f in Packages Packages.gz; do
    printf ' %s %s %s\n' "$(sha256sum "$f" | cut -d' ' -f1)" "$(stat -c %s "$f")" "$f"
  done
} >Release
chmod 755 "$t"
chmod 644 ./*
cd /
mv "$t" "$repo"
trap - EXIT
echo "lxkit debrepo: $repo: $(grep -c '^Package:' "$repo/Packages") packages, $(du -sk "$repo" | cut -f1) KB" >&2
