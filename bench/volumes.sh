#!/usr/bin/env bash
# Volume benchmark: `run --rm busybox true` with no volume against the same with five
# named volumes (`-v vN:/vN`), on a private berth daemon; hyperfine reports both.
# The issue's bar: five volumes add at most 10 % to a container start. Both run with
# `--network none`, so network setup does not dilute the difference.
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
bd run --rm --network none bench:vol true
# shellcheck disable=SC2086
bd run --rm --network none $vols bench:vol true

hyperfine -N --warmup 3 --runs "$runs" --export-json "$dir/results.json" \
    -n "run, no volume" "$docker_cli -H unix://$sock run --rm --network none bench:vol true" \
    -n "run, 5 volumes" "$docker_cli -H unix://$sock run --rm --network none $vols bench:vol true"

# On a shared, loaded machine hyperfine's back-to-back blocks drift apart; pairs run
# alternately give a fairer comparison: medians and minimums of $runs pairs.
python3 - "$docker_cli" "$sock" "$runs" "$vols" <<'PY'
import statistics, subprocess, sys, time
cli, sock, runs, vols = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split()
base = [cli, "-H", f"unix://{sock}", "run", "--rm", "--network", "none"]
cmds = {"no volume": base + ["bench:vol", "true"], "5 volumes": base + vols + ["bench:vol", "true"]}
times = {k: [] for k in cmds}
for _ in range(runs):
    for k, c in cmds.items():
        t = time.perf_counter()
        subprocess.run(c, check=True, stdout=subprocess.DEVNULL)
        times[k].append((time.perf_counter() - t) * 1000)
for k, v in times.items():
    print(f"interleaved {k}: median {statistics.median(v):.1f} ms, min {min(v):.1f} ms ({runs} runs)")
a, b = statistics.median(times["no volume"]), statistics.median(times["5 volumes"])
print(f"interleaved: 5 volumes / no volume = {b / a:.3f} (medians)")
PY
