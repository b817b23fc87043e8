#!/usr/bin/env bash
# Builds once (cached in /var/cache/lxkit) lxkit's cloud-init test image,
# Debian bookworm with Debian's cloud-init and systemd as its init, and
# imports it into the local LXD and Incus as "cloudimage". Run by
# `make cloudinit-image` after `make hosts`. Idempotent and quiet when all
# is ready.
#
# What a test can rely on (see scripts/cloudinit/):
#   - the image's templates (metadata.yaml) seed cloud-init's NoCloud
#     datasource in /var/lib/cloud/seed/nocloud-net/ when an instance is
#     created or copied: user-data from cloud-init.user-data (else
#     user.user-data, else an empty #cloud-config), vendor-data likewise
#     from cloud-init.vendor-data or user.vendor-data, meta-data with
#     instance-id and local-hostname the instance's name plus
#     user.meta-data;
#   - cloud-init runs at the first start under systemd (its four units),
#     writes /run/cloud-init/result.json when done and answers
#     `cloud-init status --long`; it leaves the network alone (eth0 gets an
#     address from the bridge through dhclient: no route, no DNS);
#   - no default user, no sshd; `lxc stop` (SIGPWR) stops it in seconds.
#
# Measured (see README, "Real cloud-init"): systemd 252 runs as the
# container's init on this kind of host (cgroup v1 hybrid, no systemd on
# the host), unprivileged, on both daemons; so does sysvinit with Debian's
# cloud-init init scripts.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${LXKIT_CACHE:-/var/cache/lxkit}
# Bump v1 when the build or anything in scripts/cloudinit/ changes.
image=$cache/cloudinit-bookworm-v2.tar.zst
# The packages fetched, kept for the next build (about 60 MB): fetching
# them is nearly all of a build's time.
debs=$cache/debs-bookworm
alias=cloudimage
mirror=http://deb.debian.org/debian
packages=(cloud-init systemd-sysv)

die() { echo "lxkit cloudinit-image: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root: sudo make cloudinit-image"
for cli in lxc incus; do
  timeout 10 "$cli" query /1.0 >/dev/null 2>&1 || die "'$cli' cannot reach its daemon: run 'make hosts' first"
done

if ! command -v zstd >/dev/null || ! command -v debootstrap >/dev/null; then
  command -v apt-get >/dev/null || die "missing debootstrap or zstd and no apt-get: install them by hand"
  apt() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q "$@" >/dev/null 2>&1; }
  { apt update && apt install -y --no-install-recommends debootstrap zstd; } ||
    die "could not install debootstrap and zstd with apt-get"
fi

# One build or import at a time (tests may run this in parallel).
mkdir -p "$cache"
exec 9>"$cache/.cloudinit-image.lock"
flock 9

# build_image OUT: writes the unified image tarball to OUT.
build_image() {
  local out=$1 start=$SECONDS # t, r and log stay global for the EXIT trap
  t=$(mktemp -d /var/tmp/lxkit-cloudinit.XXXXXX)
  r=$t/rootfs log=$t/build.log
  unmount_all() {
    local m
    for m in $(awk -v t="$t/" 'index($2, t) == 1 { print $2 }' /proc/mounts | sort -r); do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
  }
  cleanup() {
    unmount_all
    if awk -v t="$t/" 'index($2, t) == 1 { f = 1 } END { exit !f }' /proc/mounts; then
      echo "lxkit cloudinit-image: left $t behind: something is still mounted in it" >&2
    else
      rm -rf "$t"
    fi
  }
  fail() {
    echo "lxkit cloudinit-image: $*; last lines of the build log:" >&2
    tail -n 15 "$log" | sed 's/^/    /' >&2
    exit 1
  }
  trap cleanup EXIT
  trap 'exit 130' INT TERM

  echo "lxkit cloudinit-image: building $out (a few minutes, once)" >&2
  mkdir -p "$debs"
  debootstrap --variant=minbase --cache-dir="$debs" bookworm "$r" "$mirror" >"$log" 2>&1 ||
    fail "debootstrap failed"

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
  mount --bind "$debs" "$r/var/cache/apt/archives"

  install -D -m 644 "$here/cloudinit/90-lxkit.cfg" "$r/etc/cloud/cloud.cfg.d/90-lxkit.cfg"
  install -D -m 644 "$here/cloudinit/lxkit-dhcp.service" "$r/etc/systemd/system/lxkit-dhcp.service"
  install -D -m 755 "$here/cloudinit/lxkit-dhclient-script" "$r/usr/local/sbin/lxkit-dhclient-script"

  chroot "$r" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive bash -euxc '
    apt() { apt-get -o DPkg::Lock::Timeout=600 -o APT::Install-Recommends=false -q "$@"; }
    apt update
    apt install -y '"${packages[*]}"'
    systemctl enable lxkit-dhcp.service
    # Units that only fail or wait in an unprivileged container.
    systemctl mask systemd-binfmt.service e2scrub_reap.service \
      e2scrub_all.timer apt-daily.timer apt-daily-upgrade.timer
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old \
      /var/lib/dpkg/*-old /var/log/* /usr/share/doc/* /usr/share/man/* \
      /usr/share/info/* /usr/share/lintian/* /root/.bash_history
    find /usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  ' >>"$log" 2>&1 || fail "installing packages in the image failed"

  rm -f "$r/usr/sbin/policy-rc.d"
  : >"$r/etc/resolv.conf"
  : >"$r/etc/fstab"
  : >"$r/etc/machine-id" # systemd makes one at the first boot
  echo cloudimage >"$r/etc/hostname"
  local version
  version=$(chroot "$r" dpkg-query -W -f='${Version}' cloud-init)
  unmount_all
  rm -rf "${r:?}"/dev/* "$r"/var/cache/apt/archives/* # LXD and Incus make /dev themselves

  mkdir -p "$t/templates"
  cp "$here"/cloudinit/*.tpl "$t/templates/"
  echo '{{ container.name }}' >"$t/templates/hostname.tpl"
  printf '127.0.0.1 localhost\n127.0.1.1 {{ container.name }}\n' >"$t/templates/hosts.tpl"
  local seed=/var/lib/cloud/seed/nocloud-net
  cat >"$t/metadata.yaml" <<EOF
architecture: $(uname -m)
creation_date: $(date +%s)
properties:
  description: lxkit cloud-init test image (Debian bookworm, cloud-init $version, systemd)
  os: debian
  release: bookworm
templates:
  /etc/hostname: {when: [create, copy], template: hostname.tpl}
  /etc/hosts: {when: [create, copy], template: hosts.tpl}
  $seed/user-data: {when: [create, copy], template: user-data.tpl, properties: {default: "#cloud-config\n{}"}}
  $seed/vendor-data: {when: [create, copy], template: vendor-data.tpl, properties: {default: "#cloud-config\n{}"}}
  $seed/meta-data: {when: [create, copy], template: meta-data.tpl}
EOF
  mkdir -p "$(dirname "$out")"
  tar -C "$t" --numeric-owner -cf - metadata.yaml templates rootfs |
    zstd -q -T0 -12 --long=27 -o "$out.tmp" || fail "packing the image failed"
  mv -f "$out.tmp" "$out"
  cleanup
  trap - EXIT INT TERM
  echo "lxkit cloudinit-image: built in $((SECONDS - start)) s" >&2
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
  if [ -n "$old" ] && [ "$("$cli" query "/1.0/images/$old" 2>/dev/null | grep -c '"name":')" -eq 0 ]; then
    "$cli" image delete "$old" >/dev/null 2>&1 || true
  fi
  printf 'lxkit cloudinit-image: %-5s %s=%.12s (%s MB)\n' "$cli" "$alias" "$fp" "$(($(stat -c %s "$image") / 1000000))" >&2
done
