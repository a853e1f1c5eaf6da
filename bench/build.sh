#!/usr/bin/env bash
# Build benchmarks: a 10-instruction Dockerfile with a ~50 MB context (5 x 10 MB random
# files + 1,000 small files), classic builder through the docker CLI
# (DOCKER_BUILDKIT=0), berth vs dockerd side by side:
#   cold       --no-cache build
#   no-change  rebuild, nothing changed (every step a cache hit)
#   one-file   rebuild after changing one small copied file (2 steps re-run)
#   cli-floor  the docker CLI against a stub engine that reads and discards the
#              context: the CLI's own walk+tar+send time, a floor every engine shares
#
# Needs: hyperfine, busybox-static, a release build (cargo build --release -p berth),
# root. Optional: dockerd (started here on a private socket/data-root, no bridge, no
# iptables; stopped at the end). RUN steps use --network none in both engines.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
berth="${BERTH:-$root/target/release/berth}"
docker_cli="${DOCKER_CLI:-/usr/local/bin/docker}"
dir="${BENCH_DIR:-/tmp/berth-bench-build}"
runs="${RUNS:-5}"
sock="$dir/berth.sock"
dsock="$dir/docker.sock"
export DOCKER_BUILDKIT=0

[ -x "$berth" ] || { echo "bench: $berth missing: cargo build --release -p berth" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "bench: install hyperfine" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "bench: install busybox-static" >&2; exit 1; }

rm -rf "$dir"
mkdir -p "$dir/rootfs/bin" "$dir/rootfs/tmp" "$dir/rootfs/etc" "$dir/results" "$dir/ctx"

bd() { "$docker_cli" -H "unix://$sock" "$@"; }   # docker CLI -> berth
dd() { "$docker_cli" -H "unix://$dsock" "$@"; }  # docker CLI -> dockerd

pids=()
cleanup() {
    set +e
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    grep " $dir/" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r umount -l 2>/dev/null
}
trap cleanup EXIT

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== fixtures: busybox rootfs, 50 MB context" >&2
cp /bin/busybox "$dir/rootfs/bin/busybox"
for a in $(/bin/busybox --list); do
    [ -e "$dir/rootfs/bin/$a" ] || ln -s busybox "$dir/rootfs/bin/$a"
done
tar --numeric-owner -C "$dir/rootfs" -cf "$dir/rootfs.tar" .
mkdir -p "$dir/ctx/big" "$dir/ctx/small"
for i in 1 2 3 4 5; do head -c $((10 << 20)) /dev/urandom >"$dir/ctx/big/blob-$i.bin"; done
for i in $(seq 1 1000); do head -c 512 /dev/urandom >"$dir/ctx/small/f$i"; done
echo "v1" >"$dir/ctx/conf.txt"
cat >"$dir/ctx/Dockerfile" <<'DF'
FROM bbench
ENV A=1
WORKDIR /app
COPY big/ /app/big/
COPY small/ /app/small/
RUN echo built > /built
COPY conf.txt /app/conf.txt
RUN cat /app/conf.txt > /app/conf.copy
LABEL bench=1
CMD ["sh"]
DF
du -sh "$dir/ctx" >&2

echo "== berth daemon (private socket and data-root)" >&2
echo '{"bridge": "none"}' >"$dir/berth.json"
"$berth" daemon -H "unix://$sock" --data-root "$dir/root" --exec-root "$dir/exec" \
    --pidfile "$dir/berth.pid" --config-file "$dir/berth.json" >"$dir/daemon.log" 2>&1 &
pids+=("$!")
for _ in $(seq 1 100); do bd version >/dev/null 2>&1 && break; sleep 0.1; done
bd import -c 'CMD ["sh"]' "$dir/rootfs.tar" bbench >/dev/null

have_docker=0
if command -v dockerd >/dev/null; then
    echo "== dockerd (private socket and data-root, no bridge, no iptables)" >&2
    echo '{}' >"$dir/docker.json"
    dockerd -H "unix://$dsock" --data-root "$dir/docker-root" --exec-root "$dir/docker-exec" \
        --pidfile "$dir/docker.pid" --bridge none --iptables=false --ip6tables=false \
        --containerd-namespace berth-bench-build --config-file "$dir/docker.json" \
        >"$dir/dockerd.log" 2>&1 &
    pids+=("$!")
    for _ in $(seq 1 200); do dd version >/dev/null 2>&1 && break; sleep 0.1; done
    if dd version >/dev/null 2>&1; then
        have_docker=1
        dd import -c 'CMD ["sh"]' "$dir/rootfs.tar" bbench >/dev/null
    else
        echo "bench: dockerd did not start (see $dir/dockerd.log); skipping it" >&2
    fi
fi

build() { echo "\"$docker_cli\" -H unix://$1 build -q --network none $2 -t bench:b \"$dir/ctx\""; }
engines=("berth $sock")
[ "$have_docker" = 1 ] && engines+=("dockerd $dsock")
for e in "${engines[@]}"; do
    set -- $e
    name=$1 s=$2
    echo "== $name" >&2
    eval "$(build "$s" "")" >/dev/null   # warm: the cache exists for the rebuilds
    hyperfine -N -w 1 -r "$runs" --export-json "$dir/results/$name-cold.json" \
        -n "$name cold" "$(build "$s" --no-cache)" >&2
    hyperfine -N -w 1 -r "$runs" --export-json "$dir/results/$name-nochange.json" \
        -n "$name no-change" "$(build "$s" "")" >&2
    hyperfine -w 1 -r "$runs" --export-json "$dir/results/$name-onefile.json" \
        --prepare "date +%s%N > $dir/ctx/conf.txt" \
        -n "$name one-file" "$(build "$s" "")" >&2
done

# Daemon memory against context size: peak RSS (VmHWM, reset through clear_refs before
# each build) of a cold and a no-change build of `COPY big/` from a 54 MB and a
# MEM_MB (default 500) MB context. Skipped with MEM_MB=0.
mem_mb="${MEM_MB:-500}"
if [ "$mem_mb" != 0 ]; then
    echo "== berth daemon peak RSS against context size" >&2
    bpid="$(cat "$dir/berth.pid")"
    mkdir -p "$dir/memctx/big"
    for i in $(seq 1 $((mem_mb / 50))); do
        head -c $((50 << 20)) /dev/urandom >"$dir/memctx/big/b$i.bin"
    done
    printf 'FROM bbench\nCOPY big/ /big/\nRUN true\n' >"$dir/memctx/Dockerfile"
    cp "$dir/memctx/Dockerfile" "$dir/ctx/Dockerfile.mem"
    echo "idle: $(awk '/VmRSS/ {print $2}' "/proc/$bpid/status") kB"
    for c in "$dir/ctx -f $dir/ctx/Dockerfile.mem" "$dir/memctx"; do
        for kind in cold no-change; do
            echo 5 >"/proc/$bpid/clear_refs"
            bd build -q --network none -t bench:mem $c >/dev/null
            echo "$(du -sh ${c%% *} | cut -f1) context, $kind: peak RSS $(awk '/VmHWM/ {print $2}' "/proc/$bpid/status") kB"
        done
    done
    rm -rf "$dir/memctx" "$dir/ctx/Dockerfile.mem"
fi

echo "== cli floor: the docker CLI against a stub that discards the context" >&2
ssock="$dir/sink.sock"
python3 - "$ssock" <<'PY' 2>"$dir/sink.log" &
import json, os, socketserver, sys
from http.server import BaseHTTPRequestHandler

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def reply(self, body, ctype="application/json"):
        b = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Api-Version", "1.45")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(b)
    def do_HEAD(self):
        self.reply("OK", "text/plain")
    def do_GET(self):
        if self.path.endswith("/_ping"):
            return self.reply("OK", "text/plain")
        self.reply(json.dumps({"ApiVersion": "1.45", "MinAPIVersion": "1.24", "Version": "stub"}))
    def do_POST(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                while size:
                    size -= len(self.rfile.read(min(size, 1 << 20)))
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left:
                left -= len(self.rfile.read(min(left, 1 << 20)))
        self.reply(json.dumps({"stream": "sha256:" + "0" * 64 + "\n"}) + "\n")

class S(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    def get_request(self):
        r, _ = super().get_request()
        return r, ("local", 0)

S(sys.argv[1], H).serve_forever()
PY
pids+=("$!")
for _ in $(seq 1 50); do [ -S "$ssock" ] && break; sleep 0.1; done
hyperfine -N -w 1 -r "$runs" --export-json "$dir/results/stub-floor.json" \
    -n "stub cli-floor" "$(build "$ssock" "")" >&2

echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| scenario | engine | median (s) |"
echo "|---|---|---|"
for f in "$dir"/results/*.json; do
    python3 - "$f" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
name = r["command"]
engine, scenario = name.split(" ", 1)
print(f"| {scenario} | {engine} | {r['median']:.3f} |")
PY
done
