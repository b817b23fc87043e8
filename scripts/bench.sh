#!/usr/bin/env bash
# Compares lxkit with lxc and incus side by side and writes BENCHMARKS.md.
# Run through `make bench` (which prepares the hosts and builds bin/lxkit).
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/one-at-a-time.sh "$@"

out=BENCHMARKS.md
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
{
  echo "# Benchmarks"
  echo
  echo "Produced by \`make bench\` (scripts/bench.sh) on $(date -u '+%Y-%m-%d %H:%M UTC')."
  echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr), $(. /etc/os-release; echo "$PRETTY_NAME");"
  echo "LXD $(lxd --version), Incus $(incus version 2>/dev/null | sed -n 's/^Server version: //p'); busybox test container on a dir pool."
  echo "Latencies are medians of ${BENCH_RUNS:-20} interleaved runs after a warm-up (rows of slow calls: an odd number, at least 5, once their runs"
  echo "have taken 10 s), each after a 150 ms pause (a call made alone);"
  echo "the \"back to back\" row makes the calls without pauses, as a job running steps does (this VM's idle CPUs are slow"
  echo "to wake, which costs the daemon's part of a lone call about 15 ms), and the \"floor\" row is the least an exec through"
  echo "the API can cost (POST and wait, with no streams), to show how much of a call is the daemon's. Transfers are medians of three interleaved"
  echo "runs (the CLIs' copies: one run), between tmpfs on both ends (/dev/shm here, a tmpfs"
  echo "in the container), so that they compare the tools rather than this machine's disk, whose speed"
  echo "varies several-fold from run to run. Peak RSS is the whole process's, from GNU time."
  echo 'The Incus rows compare with the `incus` CLI, whose file push/pull (SFTP) is much faster than'
  echo 'the `lxc` of LXD 5.0; the goals of issue 2 were set against `lxc`. The HTTPS rows compare with `lxc exec REMOTE:NAME`'
  echo '(`incus exec`) on a remote of the same daemon at 127.0.0.1, each tool with a config directory of its own, trusted by a token.'
  echo 'The scale rows run hundreds of busybox containers: each list a median of half as many runs (or fewer, as above); the launches'
  echo '(apply, the `launch` loop, the API floor) are timed in chunks of 10 (at 20) or 20 (at 100) that take turns (loop, apply, floor,'
  echo 'floor, apply, loop, loop...), since each launch costs the daemon more as its containers grow in number.'
  echo 'Execs per second: 96 execs of `true`, 8 at once, median of 3 runs; an `lxc exec` that sees no end within 20 s'
  echo "(LXD 5.0.2's client now and then misses the end of its operation) is killed, counted as hung, and its 20 s count."
  echo
  go run ./tools/bench -runs "${BENCH_RUNS:-20}" -big "${BENCH_BIG:-1073741824}"
  echo "bench: side by side rows done after ${SECONDS} s" >&2
  echo "## Go benchmarks (library calls)"
  echo
  echo '```'
  # The folder upload, 0.5-1 s a run, runs fewer times than the calls.
  go test -run '^$' -bench 'ExecTrue|RunEcho' -benchtime "${BENCH_TIME:-50x}" ./driver/rest/ | grep -E '^(Benchmark|ok)'
  go test -run '^$' -bench 'UploadFolder' -benchtime "${BENCH_FOLDER_TIME:-10x}" ./driver/rest/ | grep -E '^(Benchmark|ok)'
  echo '```'
  # What was measured by other commands (each section says which) is kept.
  if [ -f "$out" ]; then sed -n '/^<!-- kept by make bench -->$/,$p' "$out"; fi
} >"$tmp"
echo "bench: done after ${SECONDS} s" >&2
cp "$tmp" "$out"
cat "$out"
