# Sourced by the scripts that build lxkit's Debian test images once (cached
# in /var/cache/lxkit) and import them into the local LXD and Incus:
# nested-image.sh and cloudinit-image.sh. What differs from one image to the
# other is in the sourcing script:
#   name                 "nested-image": messages, the lock, the make target
#   mirror, packages     debootstrap's mirror, what apt installs on top
#   debs (optional)      a folder that keeps the packages fetched for the next build
#   image_files          copies the image's own files into $r (the rootfs)
#   image_setup          shell run in the chroot after the packages are in
#   image_finish         last touches of $r, before it is packed
#   image_metadata       writes $t/metadata.yaml (and more templates in $t/templates)
# debimage.sh gives them die, a lock, build_image OUT and import_image FILE ALIAS.

die() { echo "lxkit $name: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root: sudo make $name"
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
exec 9>"$cache/.$name.lock"
flock 9

# build_image OUT: writes the unified image tarball to OUT.
build_image() {
  local out=$1 start=$SECONDS # t, r and log stay global for the EXIT trap
  t=$(mktemp -d "/var/tmp/lxkit-$name.XXXXXX")
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
      echo "lxkit $name: left $t behind: something is still mounted in it" >&2
    else
      rm -rf "$t"
    fi
  }
  fail() {
    echo "lxkit $name: $*; last lines of the build log:" >&2
    tail -n 15 "$log" | sed 's/^/    /' >&2
    exit 1
  }
  trap cleanup EXIT
  trap 'exit 130' INT TERM

  echo "lxkit $name: building $out (a few minutes, once)" >&2
  local cached=()
  if [ -n "${debs:-}" ]; then
    mkdir -p "$debs"
    cached=(--cache-dir="$debs")
  fi
  debootstrap --variant=minbase "${cached[@]}" bookworm "$r" "$mirror" >"$log" 2>&1 ||
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
  [ -z "${debs:-}" ] || mount --bind "$debs" "$r/var/cache/apt/archives"

  image_files

  chroot "$r" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive bash -euxc '
    apt() { apt-get -o DPkg::Lock::Timeout=600 -o APT::Install-Recommends=false -q "$@"; }
    apt update
    apt install -y '"${packages[*]}"'
    '"$(image_setup)"'
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old \
      /var/lib/dpkg/*-old /var/log/* /usr/share/doc/* /usr/share/man/* \
      /usr/share/info/* /usr/share/lintian/* /root/.bash_history
    find /usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  ' >>"$log" 2>&1 || fail "installing packages in the image failed"

  rm -f "$r/usr/sbin/policy-rc.d"
  : >"$r/etc/resolv.conf"
  : >"$r/etc/fstab"
  image_finish
  unmount_all
  rm -rf "${r:?}"/dev/* "$r"/var/cache/apt/archives/* # LXD and Incus make /dev themselves

  mkdir -p "$t/templates"
  echo '{{ container.name }}' >"$t/templates/hostname.tpl"
  printf '127.0.0.1 localhost\n127.0.1.1 {{ container.name }}\n' >"$t/templates/hosts.tpl"
  image_metadata
  mkdir -p "$(dirname "$out")"
  tar -C "$t" --numeric-owner -cf - metadata.yaml templates rootfs |
    zstd -q -T0 -12 --long=27 -o "$out.tmp" || fail "packing the image failed"
  mv -f "$out.tmp" "$out"
  cleanup
  trap - EXIT INT TERM
  echo "lxkit $name: built in $((SECONDS - start)) s" >&2
}

# import_image FILE ALIAS: imports FILE into both daemons as ALIAS,
# replacing an older build's image; prints a line per daemon.
import_image() {
  local image=$1 alias=$2 fp old out cli
  fp=$(sha256sum "$image" | cut -d' ' -f1) # a unified image's fingerprint
  for cli in lxc incus; do
    old=$("$cli" query "/1.0/images/aliases/$alias" 2>/dev/null | sed -n 's/^[[:space:]]*"target": "\([0-9a-f]*\)".*/\1/p') || true
    if [ "$old" != "$fp" ]; then
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
    fi
    printf 'lxkit %s: %-5s %s=%.12s (%s MB)\n' "$name" "$cli" "$alias" "$fp" "$(($(stat -c %s "$image") / 1000000))" >&2
  done
}
