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

name=cloudinit-image
# shellcheck source=debimage.sh
. "$here/debimage.sh"

image_files() {
  install -D -m 644 "$here/cloudinit/90-lxkit.cfg" "$r/etc/cloud/cloud.cfg.d/90-lxkit.cfg"
  install -D -m 644 "$here/cloudinit/lxkit-dhcp.service" "$r/etc/systemd/system/lxkit-dhcp.service"
  install -D -m 755 "$here/cloudinit/lxkit-dhclient-script" "$r/usr/local/sbin/lxkit-dhclient-script"
}

image_setup() {
  cat <<'EOF'
    systemctl enable lxkit-dhcp.service
    # Units that only fail or wait in an unprivileged container.
    systemctl mask systemd-binfmt.service e2scrub_reap.service \
      e2scrub_all.timer apt-daily.timer apt-daily-upgrade.timer
EOF
}

image_finish() {
  : >"$r/etc/machine-id" # systemd makes one at the first boot
  echo cloudimage >"$r/etc/hostname"
}

image_metadata() {
  local seed=/var/lib/cloud/seed/nocloud-net
  cp "$here"/cloudinit/*.tpl "$t/templates/"
  cat >"$t/metadata.yaml" <<EOF
architecture: $(uname -m)
creation_date: $(date +%s)
properties:
  description: lxkit cloud-init test image (Debian bookworm, cloud-init $(chroot "$r" dpkg-query -W -f='${Version}' cloud-init), systemd)
  os: debian
  release: bookworm
templates:
  /etc/hostname: {when: [create, copy], template: hostname.tpl}
  /etc/hosts: {when: [create, copy], template: hosts.tpl}
  $seed/user-data: {when: [create, copy], template: user-data.tpl, properties: {default: "#cloud-config\n{}"}}
  $seed/vendor-data: {when: [create, copy], template: vendor-data.tpl, properties: {default: "#cloud-config\n{}"}}
  $seed/meta-data: {when: [create, copy], template: meta-data.tpl}
EOF
}

[ -f "$image" ] || build_image "$image"
import_image "$image" "$alias"
