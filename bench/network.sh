#!/usr/bin/env bash
# Network benchmarks: `run --rm busybox true` on the default bridge against the same
# run with `--network none` (the cost of the namespace, veth, address, route and
# firewall work per container), and the embedded DNS server's latency for a container
# name (queries sent to 127.0.0.11:53 from inside a container's namespace).
#
# Needs: hyperfine, python3, nsenter, busybox-static, nft, a release build
# (cargo build --release -p berth), root.
# The daemon gets its own bridge (`btbench0`), nftables table (`btbench`) and subnet,
# and removes them at exit (`--net-teardown-on-exit`); nothing else is touched.
# Results: $BENCH_DIR/results/*.json (hyperfine exports) and a summary on stdout.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
berth="${BERTH:-$root/target/release/berth}"
docker_cli="${DOCKER_CLI:-/usr/local/bin/docker}"
dir="${BENCH_DIR:-/tmp/berth-bench-network}"
runs="${RUNS:-30}"
queries="${QUERIES:-2000}"
sock="$dir/berth.sock"

[ -x "$berth" ] || { echo "bench: $berth missing: cargo build --release -p berth" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "bench: install hyperfine" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "bench: install busybox-static" >&2; exit 1; }

# A /24 for the bridge and one for user networks that nothing on the host routes.
pick_octet() {
    for x in $(seq 240 254); do
        ip route | grep -q "^10\.21[34]\.$x\." || { echo "$x"; return; }
    done
    echo "bench: no free 10.213.x.0/24" >&2; exit 1
}
x="$(pick_octet)"

rm -rf "$dir"
mkdir -p "$dir/rootfs/bin" "$dir/rootfs/tmp" "$dir/rootfs/etc" "$dir/results"
b() { "$berth" -H "unix://$sock" "$@"; }
bd() { "$docker_cli" -H "unix://$sock" "$@"; }

daemon_pid=""
cleanup() {
    set +e
    b rm -f $(b ps -aq) >/dev/null 2>&1
    b network rm benchnet >/dev/null 2>&1
    [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
    grep " $dir/" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r umount -l 2>/dev/null
}
trap cleanup EXIT

cp /bin/busybox "$dir/rootfs/bin/busybox"
for a in $(/bin/busybox --list); do
    [ -e "$dir/rootfs/bin/$a" ] || ln -s busybox "$dir/rootfs/bin/$a"
done
tar --numeric-owner -C "$dir/rootfs" -cf "$dir/rootfs.tar" .

"$berth" daemon -H "unix://$sock" --data-root "$dir/root" --exec-root "$dir/exec" \
    --pidfile "$dir/berth.pid" --bridge btbench0 --bip "10.213.$x.1/24" \
    --default-address-pool "base=10.214.$x.0/24,size=26" --nft-table btbench \
    --net-teardown-on-exit >"$dir/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 1 100); do b version >/dev/null 2>&1 && break; sleep 0.1; done
b import -c 'CMD ["sh"]' "$dir/rootfs.tar" busybox >/dev/null
# The first bridge container creates the bridge and the table: not part of the runs.
b run --rm busybox true

echo "== run --rm busybox true: default bridge vs --network none" >&2
hyperfine -N -w 3 -r "$runs" --export-json "$dir/results/run.json" \
    -n "berth CLI, bridge" "$berth -H unix://$sock run --rm busybox true" \
    -n "berth CLI, none" "$berth -H unix://$sock run --rm --network none busybox true" \
    -n "docker CLI, bridge" "$docker_cli -H unix://$sock run --rm busybox true" \
    -n "docker CLI, none" "$docker_cli -H unix://$sock run --rm --network none busybox true" >&2

echo "== embedded DNS: $queries sequential A queries for a container name" >&2
b network create benchnet >/dev/null
b run -d --name target --network benchnet busybox sleep 600 >/dev/null
b run -d --name client --network benchnet busybox sleep 600 >/dev/null
cid="$(b inspect -f '{{.Id}}' client)"
nsenter --net="$dir/exec/netns/$cid" python3 - "$queries" <<'EOF' | tee "$dir/results/dns.txt"
import socket, statistics, struct, sys, time
n = int(sys.argv[1])
def query(i):
    q = struct.pack(">HHHHHH", i & 0xffff, 0x0100, 1, 0, 0, 0)
    q += b"\x06target\x00" + struct.pack(">HH", 1, 1)
    return q
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect(("127.0.0.11", 53))
lat = []
for i in range(n):
    t = time.perf_counter()
    s.send(query(i))
    r = s.recv(512)
    lat.append((time.perf_counter() - t) * 1e6)
    assert struct.unpack(">H", r[6:8])[0] == 1, "no answer"
lat.sort()
print(f"dns median {statistics.median(lat):.0f} us, p99 {lat[int(n * 0.99)]:.0f} us over {n} queries")
EOF

python3 - "$dir/results/run.json" <<'EOF'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
for cli in ("berth CLI", "docker CLI"):
    br, no = r[f"{cli}, bridge"]["median"], r[f"{cli}, none"]["median"]
    print(f"{cli}: bridge {br*1000:.1f} ms, none {no*1000:.1f} ms, ratio {br/no:.2f}")
EOF
