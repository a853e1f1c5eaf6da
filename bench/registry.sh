#!/usr/bin/env bash
# Registry benchmarks, side by side in one run:
#   push then pull of a ~200 MB, 5-layer image through a local registry:
#     berth daemon  -> berth registry serve
#     dockerd       -> Debian's docker-registry (the reference `distribution` registry)
#   digest verification throughput: berth's sha256 (berth-stdx's streaming hasher, as
#   pull uses it) vs sha256sum over the same 1 GiB file from the page cache.
#
# Needs: root, a release build (cargo build --release -p berth), dockerd, the
# docker-registry package (apt-get install -y docker-registry; not in CI), python3.
# Everything runs on private sockets, data dirs and 127.0.0.1 ports under $BENCH_DIR;
# the system's /run/berth and /var/run/docker.sock are never touched.
# Each run starts from an empty registry and removes the image locally before pulling.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
berth="${BERTH:-$root/target/release/berth}"
docker_cli="${DOCKER_CLI:-/usr/local/bin/docker}"
dir="${BENCH_DIR:-/tmp/berth-bench-registry}"
runs="${RUNS:-3}"
layer_mb="${LAYER_MB:-40}"
bport=5601
dport=5602

[ -x "$berth" ] || { echo "bench: $berth missing: cargo build --release -p berth" >&2; exit 1; }
command -v docker-registry >/dev/null || { echo "bench: apt-get install -y docker-registry" >&2; exit 1; }
command -v dockerd >/dev/null || { echo "bench: dockerd missing" >&2; exit 1; }

rm -rf "$dir"
mkdir -p "$dir"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    # Keep the logs; drop the stores and the 1 GiB file.
    rm -rf "$dir/berth-root" "$dir/docker-root" "$dir/breg" "$dir/dreg" "$dir/1g.bin" "$dir/image.tar"
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.2f}')"; }

echo "== fixture: 5 layers x ${layer_mb} MB (random data + small files), docker-archive" >&2
python3 - "$dir/image.tar" "$layer_mb" <<'PY'
import hashlib, io, json, os, sys, tarfile
out, mb = sys.argv[1], int(sys.argv[2])
layers, diffs = [], []
for i in range(5):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for j in range(mb // 8):
            data = os.urandom(8 << 20)
            ti = tarfile.TarInfo(f"layer{i}/blob{j}.bin"); ti.size = len(data); ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data))
        for j in range(200):
            data = (f"line {j} of layer {i}\n" * 50).encode()
            ti = tarfile.TarInfo(f"layer{i}/small/f{j}.txt"); ti.size = len(data); ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data))
    b = buf.getvalue()
    layers.append(b)
    diffs.append("sha256:" + hashlib.sha256(b).hexdigest())
config = json.dumps({"architecture": "amd64", "os": "linux",
    "config": {"Cmd": ["sh"]}, "rootfs": {"type": "layers", "diff_ids": diffs},
    "history": [{"created_by": f"layer {i}"} for i in range(5)]}).encode()
cid = hashlib.sha256(config).hexdigest()
with tarfile.open(out, "w") as t:
    def add(name, data):
        ti = tarfile.TarInfo(name); ti.size = len(data); ti.mode = 0o644
        t.addfile(ti, io.BytesIO(data))
    names = []
    for d, b in zip(diffs, layers):
        n = d[7:] + "/layer.tar"; add(n, b); names.append(n)
    add(cid + ".json", config)
    add("manifest.json", json.dumps([{"Config": cid + ".json",
        "RepoTags": ["bench/reg:v1"], "Layers": names}]).encode())
PY
ls -l "$dir/image.tar" >&2

echo "== daemons: private berth daemon and private dockerd" >&2
"$berth" daemon -H "unix://$dir/berth.sock" --data-root "$dir/berth-root" \
    --exec-root "$dir/berth-exec" --pidfile "$dir/berth.pid" --bridge none >"$dir/berth.log" 2>&1 &
pids+=($!)
dockerd -H "unix://$dir/docker.sock" --data-root "$dir/docker-root" \
    --exec-root "$dir/docker-exec" --pidfile "$dir/docker.pid" --bridge none \
    --iptables=false >"$dir/dockerd.log" 2>&1 &
pids+=($!)
bd() { DOCKER_CONFIG="$dir/cfg" "$docker_cli" -H "unix://$dir/berth.sock" "$@"; }
dd() { DOCKER_CONFIG="$dir/cfg" "$docker_cli" -H "unix://$dir/docker.sock" "$@"; }
bb() { DOCKER_CONFIG="$dir/cfg" "$berth" -H "unix://$dir/berth.sock" "$@"; }
for _ in $(seq 1 200); do bd version >/dev/null 2>&1 && dd version >/dev/null 2>&1 && break; sleep 0.2; done
bd load -q -i "$dir/image.tar" >/dev/null
dd load -q -i "$dir/image.tar" >/dev/null

reg_pid=""
start_berth_registry() {
    rm -rf "$dir/breg"
    "$berth" registry serve --addr "127.0.0.1:$bport" --data-root "$dir/breg" 2>"$dir/breg.log" &
    reg_pid=$!
    for _ in $(seq 1 100); do python3 -c "import socket;socket.create_connection(('127.0.0.1',$bport))" 2>/dev/null && return; sleep 0.05; done
}
start_distribution() {
    rm -rf "$dir/dreg"
    mkdir -p "$dir/dreg"
    cat >"$dir/dreg.yml" <<EOF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $dir/dreg}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$dport}
EOF
    docker-registry serve "$dir/dreg.yml" >"$dir/dreg.log" 2>&1 &
    reg_pid=$!
    for _ in $(seq 1 100); do python3 -c "import socket;socket.create_connection(('127.0.0.1',$dport))" 2>/dev/null && return; sleep 0.05; done
}
stop_registry() { kill "$reg_pid" 2>/dev/null || true; wait "$reg_pid" 2>/dev/null || true; }

# One measured push+pull: $1 = label, $2 = client fn, $3 = port, $4 = start fn.
measure() {
    local label=$1 cli=$2 port=$3 start=$4 img="127.0.0.1:$3/bench/reg:v1"
    $cli tag bench/reg:v1 "$img"
    for r in $(seq 1 "$runs"); do
        $start
        sync
        local t0 t1 t2
        t0=$(now); $cli push "$img" >/dev/null; t1=$(now)
        $cli rmi "$img" >/dev/null; $cli rmi bench/reg:v1 >/dev/null
        sync
        t1b=$(now); $cli pull "$img" >/dev/null; t2=$(now)
        $cli tag "$img" bench/reg:v1
        echo "| $label | $r | $(elapsed "$t0" "$t1") | $(elapsed "$t1b" "$t2") |"
        stop_registry
    done
}

echo "== push/pull ($runs runs each)" >&2
echo "| client > daemon > registry | run | push s | pull s |"
echo "|---|---|---|---|"
measure "docker > berth > berth registry" bd $bport start_berth_registry
measure "berth > berth > berth registry" bb $bport start_berth_registry
measure "docker > dockerd > docker-registry" dd $dport start_distribution

echo "== digest verification throughput (1 GiB from the page cache)" >&2
head -c $((1 << 30)) /dev/urandom >"$dir/1g.bin"
cat "$dir/1g.bin" >/dev/null
t0=$(now); sha256sum "$dir/1g.bin" >/dev/null; t1=$(now)
(cd "$root" && cargo run -q --release -p berth-stdx --example sha256_throughput -- "$dir/1g.bin") >"$dir/berth-sha.txt"
echo
echo "| hasher | seconds for 1 GiB | MB/s |"
echo "|---|---|---|"
s=$(elapsed "$t0" "$t1")
echo "| sha256sum | $s | $(python3 -c "print(round(1073.741824/$s))") |"
cat "$dir/berth-sha.txt"
