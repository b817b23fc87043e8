#!/usr/bin/env bash
# Compares lxkit with lxc and incus side by side and writes BENCHMARKS.md.
# Run through `make bench` (which prepares the hosts and builds bin/lxkit).
set -euo pipefail
cd "$(dirname "$0")/.."

out=BENCHMARKS.md
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
{
  echo "# Benchmarks"
  echo
  echo "Produced by \`make bench\` (scripts/bench.sh) on $(date -u '+%Y-%m-%d %H:%M UTC')."
  echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr), $(. /etc/os-release; echo "$PRETTY_NAME");"
  echo "LXD $(lxd --version), Incus $(incus version 2>/dev/null | sed -n 's/^Server version: //p'); busybox test container on a dir pool."
  echo "Latencies are medians of ${BENCH_RUNS:-20} runs after a warm-up; transfers are single runs, 1 GiB files the median of three."
  echo
  go run ./tools/bench -runs "${BENCH_RUNS:-20}" -big "${BENCH_BIG:-1073741824}"
  echo "## Go benchmarks (library calls)"
  echo
  echo '```'
  go test -run '^$' -bench . -benchtime "${BENCH_TIME:-50x}" ./driver/rest/ | grep -E '^(Benchmark|ok)'
  echo '```'
} >"$tmp"
cp "$tmp" "$out"
cat "$out"
