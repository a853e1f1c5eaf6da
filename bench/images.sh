#!/usr/bin/env bash
# Image-store benchmarks: `load` and `import` of a ~200 MB image, and `images` with
# 1,000 images, for berth and (when a docker daemon answers on /var/run/docker.sock)
# dockerd side by side in the same run; plus berth's daemon RSS when idle.
#
# Needs: hyperfine, python3, a release build (cargo build --release -p berth), root.
# Uses a private berth daemon (socket/data-root under $BENCH_DIR), never /run/berth.
# Results: $BENCH_DIR/*.json (hyperfine exports) and a markdown summary on stdout.
# Each load/import run is prepared by removing the image and `sync`, so dirty pages of
# the previous run are not written back during the measured one.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
berth="${BERTH:-$root/target/release/berth}"
docker_cli="${DOCKER_CLI:-/usr/local/bin/docker}"
dir="${BENCH_DIR:-/tmp/berth-bench}"
size_mb="${SIZE_MB:-200}"
n_images="${N_IMAGES:-1000}"
runs="${RUNS:-5}"
sock="$dir/berth.sock"

[ -x "$berth" ] || { echo "bench: $berth missing: cargo build --release -p berth" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "bench: install hyperfine (apt-get install -y hyperfine)" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "bench: install busybox-static" >&2; exit 1; }

rm -rf "$dir"
mkdir -p "$dir/rootfs" "$dir/results"

bd() { "$docker_cli" -H "unix://$sock" "$@"; }          # docker CLI -> berth daemon
dd() { "$docker_cli" -H unix:///var/run/docker.sock "$@"; } # docker CLI -> dockerd
have_docker=0
if dd version --format '{{.Server.Version}}' >/dev/null 2>&1; then have_docker=1; fi

echo "== starting a private berth daemon" >&2
"$berth" daemon -H "unix://$sock" --data-root "$dir/root" --exec-root "$dir/exec" \
    --pidfile "$dir/berth.pid" >"$dir/daemon.log" 2>&1 &
berth_pid=$!
cleanup() {
    kill "$berth_pid" 2>/dev/null || true
    wait "$berth_pid" 2>/dev/null || true
    if [ "$have_docker" = 1 ]; then
        # Remove what this run added to dockerd, nothing else.
        ids=$(dd images -q --filter reference='bench:*'; dd images -q --filter reference='many/*')
        # shellcheck disable=SC2086
        [ -z "$ids" ] || dd rmi -f $ids >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT
for _ in $(seq 1 100); do bd version >/dev/null 2>&1 && break; sleep 0.1; done
sleep 2
rss_idle=$(ps -o rss= -p "$berth_pid" | tr -d ' ')

echo "== fixtures: ${size_mb} MB rootfs (busybox + random files), save archive" >&2
cp /bin/busybox "$dir/rootfs/busybox"
mkdir -p "$dir/rootfs/data"
i=0
while [ $((i * 8)) -lt "$size_mb" ]; do
    head -c $((8 << 20)) /dev/urandom >"$dir/rootfs/data/blob-$i.bin"
    i=$((i + 1))
done
# Some small files too, like a real image: 2,000 files of 1-4 KB.
python3 - "$dir/rootfs/small" <<'PY'
import os, sys
d = sys.argv[1]
os.makedirs(d, exist_ok=True)
for i in range(2000):
    with open(os.path.join(d, f"f{i:04}.txt"), "wb") as f:
        f.write(os.urandom(1024 + (i % 4) * 1024))
PY
tar --numeric-owner -C "$dir/rootfs" -cf "$dir/rootfs.tar" .
bd import "$dir/rootfs.tar" bench:load >/dev/null
bd save -o "$dir/image.tar" bench:load
bd rmi bench:load >/dev/null
ls -l "$dir/rootfs.tar" "$dir/image.tar" >&2

cmds_load=(
    -n "berth-cli > berth: load" --prepare "$berth -H unix://$sock rmi -f bench:load >/dev/null 2>&1; sync"
    "$berth -H unix://$sock load -q -i $dir/image.tar"
    -n "docker-cli > berth: load" --prepare "$docker_cli -H unix://$sock rmi -f bench:load >/dev/null 2>&1; sync"
    "$docker_cli -H unix://$sock load -q -i $dir/image.tar"
)
cmds_import=(
    -n "berth-cli > berth: import" --prepare "$berth -H unix://$sock rmi -f bench:imp >/dev/null 2>&1; sync"
    "$berth -H unix://$sock import $dir/rootfs.tar bench:imp"
    -n "docker-cli > berth: import" --prepare "$docker_cli -H unix://$sock rmi -f bench:imp >/dev/null 2>&1; sync"
    "$docker_cli -H unix://$sock import $dir/rootfs.tar bench:imp"
)
if [ "$have_docker" = 1 ]; then
    cmds_load+=(
        -n "docker-cli > dockerd: load" --prepare "$docker_cli -H unix:///var/run/docker.sock rmi -f bench:load >/dev/null 2>&1; sync"
        "$docker_cli -H unix:///var/run/docker.sock load -q -i $dir/image.tar"
    )
    cmds_import+=(
        -n "docker-cli > dockerd: import" --prepare "$docker_cli -H unix:///var/run/docker.sock rmi -f bench:imp >/dev/null 2>&1; sync"
        "$docker_cli -H unix:///var/run/docker.sock import $dir/rootfs.tar bench:imp"
    )
fi

echo "== load" >&2
hyperfine --style basic --runs "$runs" --export-json "$dir/results/load.json" "${cmds_load[@]}" >&2
echo "== import" >&2
hyperfine --style basic --runs "$runs" --export-json "$dir/results/import.json" "${cmds_import[@]}" >&2

echo "== ${n_images} images" >&2
mkdir -p "$dir/tiny"
printf 'x\n' >"$dir/tiny/x"
tar -C "$dir/tiny" -cf "$dir/tiny.tar" .
for i in $(seq 1 "$n_images"); do
    "$berth" -H "unix://$sock" import -c "LABEL n=$i" "$dir/tiny.tar" "many/img$((i % 10)):t$i" >/dev/null
done
names=$("$berth" -H "unix://$sock" images --format '{{.Repository}}:{{.Tag}}' --filter reference='many/*')
# shellcheck disable=SC2086
"$berth" -H "unix://$sock" save -o "$dir/many.tar" $names
sleep 2
rss_many=$(ps -o rss= -p "$berth_pid" | tr -d ' ')
count=$(bd images -q | wc -l)
cmds_images=(
    -n "berth-cli > berth: images" "$berth -H unix://$sock images"
    -n "docker-cli > berth: images" "$docker_cli -H unix://$sock images"
)
if [ "$have_docker" = 1 ]; then
    dd load -q -i "$dir/many.tar" >/dev/null
    cmds_images+=(-n "docker-cli > dockerd: images" "$docker_cli -H unix:///var/run/docker.sock images")
fi
hyperfine --style basic -N --warmup 3 --runs 20 --export-json "$dir/results/images.json" "${cmds_images[@]}" >&2

echo "== summary" >&2
python3 - "$dir/results" "$rss_idle" "$rss_many" "$count" "$have_docker" <<'PY'
import json, os, sys
res, rss_idle, rss_many, count, have_docker = sys.argv[1:6]
print("| benchmark | median (s) | mean ± σ (s) | vs dockerd |")
print("|---|---|---|---|")
for name in ["load", "import", "images"]:
    data = json.load(open(os.path.join(res, name + ".json")))["results"]
    ref = next((r["median"] for r in data if "dockerd" in r["command"]), None)
    for r in data:
        ratio = f"{r['median'] / ref:.2f}×" if ref else "n/a"
        print(f"| {r['command']} | {r['median']:.3f} | {r['mean']:.3f} ± {r['stddev'] or 0:.3f} | {ratio} |")
print()
print(f"berth daemon RSS: idle after start {int(rss_idle)/1024:.1f} MB; "
      f"after {count} images {int(rss_many)/1024:.1f} MB")
PY
