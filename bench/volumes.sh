#!/usr/bin/env bash
# Volume benchmark: `run --rm busybox true` with no volume against the same with five
# named volumes (`-v vN:/vN`), on a private berth daemon; hyperfine reports both.
# The issue's bar: five volumes add at most 10 % to a container start.
#
# Needs: hyperfine, busybox-static, a release build (cargo build --release -p berth), root.
# Uses a private berth daemon (socket/data-root under $BENCH_DIR), never /run/berth.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
berth="${BERTH:-$root/target/release/berth}"
docker_cli="${DOCKER_CLI:-/usr/local/bin/docker}"
dir="${BENCH_DIR:-/tmp/berth-bench-volumes}"
runs="${RUNS:-20}"
sock="$dir/berth.sock"

[ -x "$berth" ] || { echo "bench: $berth missing: cargo build --release -p berth" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "bench: install hyperfine (apt-get install -y hyperfine)" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "bench: install busybox-static" >&2; exit 1; }

rm -rf "$dir"
mkdir -p "$dir/rootfs/bin" "$dir/rootfs/etc" "$dir/rootfs/proc" "$dir/rootfs/sys" "$dir/rootfs/dev"

"$berth" daemon -H "unix://$sock" --data-root "$dir/root" --exec-root "$dir/exec" \
    --pidfile "$dir/berth.pid" >"$dir/daemon.log" 2>&1 &
berth_pid=$!
bd() { "$docker_cli" -H "unix://$sock" "$@"; }
cleanup() {
    bd ps -aq 2>/dev/null | xargs -r "$docker_cli" -H "unix://$sock" rm -f >/dev/null 2>&1 || true
    kill "$berth_pid" 2>/dev/null || true
    wait "$berth_pid" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 1 100); do bd version >/dev/null 2>&1 && break; sleep 0.1; done

cp /bin/busybox "$dir/rootfs/bin/busybox"
ln -s busybox "$dir/rootfs/bin/sh"
ln -s busybox "$dir/rootfs/bin/true"
tar --numeric-owner -C "$dir/rootfs" -cf "$dir/rootfs.tar" .
bd import "$dir/rootfs.tar" bench:vol >/dev/null
vols=""
for i in 1 2 3 4 5; do
    bd volume create "v$i" >/dev/null
    vols="$vols -v v$i:/v$i"
done
# Warm up: the first run of each also does copy-up and directory creation.
bd run --rm bench:vol true
# shellcheck disable=SC2086
bd run --rm $vols bench:vol true

hyperfine -N --warmup 3 --runs "$runs" --export-json "$dir/results.json" \
    -n "run, no volume" "$docker_cli -H unix://$sock run --rm bench:vol true" \
    -n "run, 5 volumes" "$docker_cli -H unix://$sock run --rm $vols bench:vol true"
