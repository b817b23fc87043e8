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

name=nested-image
# shellcheck source=debimage.sh
. "$here/debimage.sh"
[ -f "$testimage" ] || die "missing $testimage: run 'make hosts' first"

image_files() {
  install -D -m 755 "$here/nested/lxkit-nested-up" "$r/usr/local/sbin/lxkit-nested-up"
  install -D -m 755 "$here/nested/lxkit-nested.init" "$r/etc/init.d/lxkit-nested"
  install -D -m 755 "$here/nested/lxkit-nested-halt" "$r/usr/local/sbin/lxkit-nested-halt"
  install -D -m 755 "$here/nested/lxkit-dhcp" "$r/usr/local/sbin/lxkit-dhcp"
  install -D -m 755 "$here/nested/udhcpc.script" "$r/usr/local/share/lxkit/udhcpc.script"
  install -D -m 644 "$testimage" "$r/usr/share/lxkit/testimage.tar.xz"
  mkdir -p "$r/var/lib/lxkit/images"
}

image_setup() {
  cat <<'EOF'
    update-rc.d lxkit-nested defaults
    # No daemon starts by itself but ours; no boot script that only fails or
    # warns in a container (clock, fsck, sysctl, dmesg).
    for s in lxd lxd-containers lxcfs rsync hwclock.sh brightness checkroot.sh \
      checkfs.sh procps bootlogs; do
      update-rc.d -f "$s" remove
    done
    rm -f /usr/bin/lxd-user # 11 MB, unused
    apt clean
EOF
}

image_finish() {
  install -m 644 "$here/nested/inittab" "$r/etc/inittab"
  echo nested >"$r/etc/hostname"
}

image_metadata() {
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
}

[ -f "$image" ] || build_image "$image"
import_image "$image" "$alias"
