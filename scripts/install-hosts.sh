#!/usr/bin/env bash
# Installs LXD (Debian bookworm) and Incus (bookworm-backports) and the tools
# the test hosts need. Idempotent: does nothing when all is installed.
set -euo pipefail

need=(lxd lxd-client incus-base incus-client iproute2 iptables dnsmasq-base busybox-static debootstrap btrfs-progs xz-utils time openssh-server)
installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${need[@]}" 2>/dev/null | awk '$2 == "installed" {print $1}' || true)
missing=()
for p in "${need[@]}"; do
  grep -qx "$p" <<<"$installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "lxkit hosts: missing packages (${missing[*]}); run 'make hosts' as root" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null; then
  echo "lxkit hosts: missing packages (${missing[*]}) and no apt-get: install LXD and Incus by hand" >&2
  exit 1
fi

bp=/etc/apt/sources.list.d/lxkit-backports.sources
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  cat >"$bp" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi

apt() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q "$@"; }
echo "lxkit hosts: installing ${missing[*]}" >&2
apt update >/dev/null
apt install -y --no-install-recommends iproute2 iptables dnsmasq-base busybox-static debootstrap btrfs-progs xz-utils time >/dev/null
# The SSH transport's tests run their own sshd (testkit/testsshd) on a
# loopback port; only the binary is needed. Where systemd runs, the package
# would also start the machine's sshd on port 22: when this script is what
# installed it, that service is turned off again.
if [[ " ${missing[*]} " == *" openssh-server "* ]]; then
  apt install -y --no-install-recommends openssh-server >/dev/null
  if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
    systemctl disable --now ssh.service ssh.socket >/dev/null 2>&1 || true
    echo "lxkit hosts: installed openssh-server for the tests' own sshd; its system service is left off" >&2
  fi
fi
apt install -y lxd lxd-client >/dev/null
apt install -y -t bookworm-backports incus-base incus-client >/dev/null
