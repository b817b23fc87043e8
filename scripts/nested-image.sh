#!/usr/bin/env bash
# Builds once (cached in /var/cache/lxkit) lxkit's nested test image, Debian
# bookworm with LXD inside, and imports it into the local LXD and Incus as
# "nestimage". Run by `make nested-image` after `make hosts`. Idempotent and
# quiet when all is ready.
#
# What a test can rely on (see scripts/nested/lxkit-nested-up):
#   - launch "nestimage" unprivileged with security.nesting=true; when
#     /run/lxkit-ready exists inside, the LXD in it answers on
#     /var/lib/lxd/unix.socket with a dir pool "default", a bridge lxdbr0
#     10.79.0.1/24 (NAT, firewall and routing off, in the container's own
#     netns) and the busybox image "testimage"; /run/lxkit-failed holds the
#     reason when the setup failed.
#   - image tarballs dropped in /var/lib/lxkit/images (NAME.tar.*) are
#     imported as alias NAME at boot, or at once with `lxkit-nested-up`.
#   - `lxc stop` (SIGPWR) stops LXD and its instances cleanly in seconds; they
#     come back at the next start.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${LXKIT_CACHE:-/var/cache/lxkit}
# Bump v1 when the build, anything in scripts/nested/ or the test image
# baked into it changes.
image=$cache/nested-bookworm-lxd-v1.tar.zst
testimage=$cache/testimage-busybox-v1.tar.xz
alias=nestimage
mirror=http://deb.debian.org/debian
packages=(lxd lxd-client dnsmasq-base iptables iproute2 procps busybox-static
  sysvinit-core ca-certificates tar xz-utils zstd)

die() { echo "lxkit nested-image: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root: sudo make nested-image"
[ -f "$testimage" ] || die "missing $testimage: run 'make hosts' first"
for cli in lxc incus; do
  timeout 10 "$cli" query /1.0 >/dev/null 2>&1 || die "'$cli' cannot reach its daemon: run 'make hosts' first"
done

# Host tools: debootstrap (make hosts installs it) and zstd, needed to pack
# the image and by both daemons to unpack it.
if ! command -v zstd >/dev/null || ! command -v debootstrap >/dev/null; then
  command -v apt-get >/dev/null || die "missing debootstrap or zstd and no apt-get: install them by hand"
  apt() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q "$@" >/dev/null 2>&1; }
  { apt update && apt install -y --no-install-recommends debootstrap zstd; } ||
    die "could not install debootstrap and zstd with apt-get"
fi

# One build or import at a time (tests may run this in parallel).
mkdir -p "$cache"
exec 9>"$cache/.nested-image.lock"
flock 9

# build_image OUT: writes the unified image tarball to OUT (about a minute).
build_image() {
  local out=$1 # t, r and log stay global for the EXIT trap
  t=$(mktemp -d /var/tmp/lxkit-nested.XXXXXX)
  r=$t/rootfs log=$t/build.log
  # Undo whatever the build mounted, even on failure; never delete a tree
  # that still has something mounted in it.
  unmount_all() {
    local m
    for m in $(awk -v t="$t/" 'index($2, t) == 1 { print $2 }' /proc/mounts | sort -r); do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
  }
  cleanup() {
    unmount_all
    if awk -v t="$t/" 'index($2, t) == 1 { f = 1 } END { exit !f }' /proc/mounts; then
      echo "lxkit nested-image: left $t behind: something is still mounted in it" >&2
    else
      rm -rf "$t"
    fi
  }
  fail() {
    echo "lxkit nested-image: $*; last lines of the build log:" >&2
    tail -n 15 "$log" | sed 's/^/    /' >&2
    exit 1
  }
  trap cleanup EXIT
  trap 'exit 130' INT TERM

  echo "lxkit nested-image: building $out (about a minute, once)" >&2
  debootstrap --variant=minbase bookworm "$r" "$mirror" >"$log" 2>&1 ||
    fail "debootstrap failed"

  # Keep docs, man pages and translations out of the image from the start.
  cat >"$r/etc/dpkg/dpkg.cfg.d/01-lxkit-nodoc" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
  printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d" # start no daemon
  chmod 755 "$r/usr/sbin/policy-rc.d"
  cp /etc/resolv.conf "$r/etc/resolv.conf"
  mount -t proc proc "$r/proc"
  mount -t sysfs -o ro sysfs "$r/sys"
  mkdir -p "$r/dev/pts"
  mount -t devpts -o newinstance,ptmxmode=0666 devpts "$r/dev/pts"

  install -D -m 755 "$here/nested/lxkit-nested-up" "$r/usr/local/sbin/lxkit-nested-up"
  install -D -m 755 "$here/nested/lxkit-nested.init" "$r/etc/init.d/lxkit-nested"
  install -D -m 755 "$here/nested/lxkit-nested-halt" "$r/usr/local/sbin/lxkit-nested-halt"
  install -D -m 755 "$here/nested/lxkit-dhcp" "$r/usr/local/sbin/lxkit-dhcp"
  install -D -m 755 "$here/nested/udhcpc.script" "$r/usr/local/share/lxkit/udhcpc.script"
  install -D -m 644 "$testimage" "$r/usr/share/lxkit/testimage.tar.xz"
  mkdir -p "$r/var/lib/lxkit/images"

  chroot "$r" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive bash -euxc '
    apt() { apt-get -o DPkg::Lock::Timeout=600 -o APT::Install-Recommends=false -q "$@"; }
    apt update
    apt install -y '"${packages[*]}"'
    update-rc.d lxkit-nested defaults
    # No daemon starts by itself but ours; no boot script that only fails or
    # warns in a container (clock, fsck, sysctl, dmesg).
    for s in lxd lxd-containers lxcfs rsync hwclock.sh brightness checkroot.sh \
      checkfs.sh procps bootlogs; do
      update-rc.d -f "$s" remove
    done
    rm -f /usr/bin/lxd-user # 11 MB, unused
    apt clean
    rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old \
      /var/lib/dpkg/*-old /var/log/* /usr/share/doc/* /usr/share/man/* \
      /usr/share/info/* /usr/share/lintian/* /root/.bash_history
    find /usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  ' >>"$log" 2>&1 || fail "installing packages in the image failed"

  install -m 644 "$here/nested/inittab" "$r/etc/inittab"
  rm -f "$r/usr/sbin/policy-rc.d"
  : >"$r/etc/resolv.conf"
  : >"$r/etc/fstab"
  echo nested >"$r/etc/hostname"
  unmount_all
  rm -rf "${r:?}"/dev/* # LXD and Incus make /dev themselves

  mkdir -p "$t/templates"
  echo '{{ container.name }}' >"$t/templates/hostname.tpl"
  printf '127.0.0.1 localhost\n127.0.1.1 {{ container.name }}\n' >"$t/templates/hosts.tpl"
  cat >"$t/metadata.yaml" <<EOF
architecture: $(uname -m)
creation_date: $(date +%s)
properties:
  description: lxkit nested test image (Debian bookworm, LXD $(chroot "$r" dpkg-query -W -f='${Version}' lxd))
  os: debian
  release: bookworm
templates:
  /etc/hostname: {when: [create, copy], template: hostname.tpl}
  /etc/hosts: {when: [create, copy], template: hosts.tpl}
EOF
  mkdir -p "$(dirname "$out")"
  tar -C "$t" --numeric-owner -cf - metadata.yaml templates rootfs |
    zstd -q -T0 -12 --long=27 -o "$out.tmp" || fail "packing the image failed"
  mv -f "$out.tmp" "$out"
  cleanup
  trap - EXIT INT TERM
}

[ -f "$image" ] || build_image "$image"

# Import into both daemons as $alias; replace an older build's image.
fp=$(sha256sum "$image" | cut -d' ' -f1) # a unified image's fingerprint
for cli in lxc incus; do
  old=$("$cli" query "/1.0/images/aliases/$alias" 2>/dev/null | sed -n 's/^[[:space:]]*"target": "\([0-9a-f]*\)".*/\1/p') || true
  [ "$old" = "$fp" ] && continue
  [ -z "$old" ] || "$cli" image alias delete "$alias"
  if "$cli" query "/1.0/images/$fp" >/dev/null 2>&1; then
    "$cli" image alias create "$alias" "$fp"
  else
    out=$("$cli" image import "$image" --alias "$alias" 2>&1) || die "'$cli image import $image' failed: $out"
  fi
  # The stale image, unless something else still names it.
  if [ -n "$old" ] && [ "$("$cli" query "/1.0/images/$old" 2>/dev/null | grep -c '"name":')" -eq 0 ]; then
    "$cli" image delete "$old" >/dev/null 2>&1 || true
  fi
done

# Summary.
for d in "LXD lxc ${LXD_DIR:-/var/lib/lxd}" "Incus incus ${INCUS_DIR:-/var/lib/incus}"; do
  set -- $d
  printf 'lxkit nested-image: %-5s %s %s=%.12s (%s MB)\n' "$1" "$3/unix.socket" "$alias" \
    "$("$2" image info "$alias" | sed -n 's/^Fingerprint: //p')" "$(($(stat -c %s "$image") / 1000000))" >&2
done
