#!/usr/bin/env bash
# Container benchmarks: `run --rm busybox true` end to end (berth CLI and docker CLI
# against berth, docker CLI against dockerd, podman, and a bare `runc run` of the same
# OCI bundle berth generates: the floor), 100 x `run -d` then `rm -f`, and memory (shim
# RSS per running container, daemon RSS with 100 containers).
#
# Needs: hyperfine, python3, busybox-static, a release build
# (cargo build --release -p berth), root. Optional: dockerd (started here on a private
# socket and data-root, stopped at the end), podman, runc.
# Every engine gets the same busybox rootfs, imported, and `--network none` (like with
# like: no bridge, no NAT). Nothing outside $BENCH_DIR is touched, except the podman
# image `berth-bench-busybox`, removed at the end.
# Results: $BENCH_DIR/results/*.json (hyperfine exports) and a summary on stdout.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
berth="${BERTH:-$root/target/release/berth}"
docker_cli="${DOCKER_CLI:-/usr/local/bin/docker}"
dir="${BENCH_DIR:-/tmp/berth-bench-containers}"
runs="${RUNS:-30}"
many="${MANY:-100}"
sock="$dir/berth.sock"
dsock="$dir/docker.sock"

[ -x "$berth" ] || { echo "bench: $berth missing: cargo build --release -p berth" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "bench: install hyperfine (apt-get install -y hyperfine)" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "bench: install busybox-static" >&2; exit 1; }

rm -rf "$dir"
mkdir -p "$dir/rootfs/bin" "$dir/rootfs/tmp" "$dir/rootfs/etc" "$dir/results"

b() { "$berth" -H "unix://$sock" "$@"; }                  # berth CLI -> berth
bd() { "$docker_cli" -H "unix://$sock" "$@"; }            # docker CLI -> berth
dd() { "$docker_cli" -H "unix://$dsock" "$@"; }           # docker CLI -> dockerd

pids=()
cleanup() {
    set +e
    b rm -f $(b ps -aq) >/dev/null 2>&1
    [ "${have_docker:-0}" = 1 ] && dd rm -f $(dd ps -aq) >/dev/null 2>&1
    [ "${have_podman:-0}" = 1 ] && podman rmi -f berth-bench-busybox >/dev/null 2>&1
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    # dockerd's own mounts under its private data-root.
    grep " $dir/" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r umount -l 2>/dev/null
}
trap cleanup EXIT

echo "== fixtures: busybox rootfs" >&2
cp /bin/busybox "$dir/rootfs/bin/busybox"
for a in $(/bin/busybox --list); do
    [ -e "$dir/rootfs/bin/$a" ] || ln -s busybox "$dir/rootfs/bin/$a"
done
tar --numeric-owner -C "$dir/rootfs" -cf "$dir/rootfs.tar" .

echo "== berth daemon (private socket and data-root)" >&2
echo '{"bridge": "none"}' >"$dir/berth.json"
"$berth" daemon -H "unix://$sock" --data-root "$dir/root" --exec-root "$dir/exec" \
    --pidfile "$dir/berth.pid" --config-file "$dir/berth.json" >"$dir/daemon.log" 2>&1 &
berth_pid=$!
pids+=("$berth_pid")
for _ in $(seq 1 100); do b version >/dev/null 2>&1 && break; sleep 0.1; done
b import -c 'CMD ["sh"]' "$dir/rootfs.tar" busybox >/dev/null

have_docker=0
if command -v dockerd >/dev/null; then
    echo "== dockerd (private socket and data-root, no bridge, no iptables)" >&2
    echo '{}' >"$dir/docker.json"
    dockerd -H "unix://$dsock" --data-root "$dir/docker-root" --exec-root "$dir/docker-exec" \
        --pidfile "$dir/docker.pid" --bridge none --iptables=false --ip6tables=false \
        --containerd-namespace berth-bench --config-file "$dir/docker.json" >"$dir/dockerd.log" 2>&1 &
    pids+=("$!")
    for _ in $(seq 1 200); do dd version >/dev/null 2>&1 && break; sleep 0.1; done
    if dd version >/dev/null 2>&1; then
        have_docker=1
        dd import -c 'CMD ["sh"]' "$dir/rootfs.tar" busybox >/dev/null
    else
        echo "bench: dockerd did not start (see $dir/dockerd.log); skipping it" >&2
    fi
fi

have_podman=0
if command -v podman >/dev/null; then
    podman import -c 'CMD ["sh"]' "$dir/rootfs.tar" berth-bench-busybox >/dev/null
    # Only if it can run a container here at all.
    if podman run --rm --network none berth-bench-busybox true >"$dir/podman.log" 2>&1; then
        have_podman=1
    else
        echo "bench: podman cannot run a container here (see $dir/podman.log); skipping it" >&2
        podman rmi -f berth-bench-busybox >/dev/null 2>&1 || true
    fi
fi

# The floor: `runc run` of the bundle berth writes for the same container.
have_runc=0
if command -v runc >/dev/null; then
    cid=$(b create --network none busybox true)
    b start "$cid" >/dev/null
    b wait "$cid" >/dev/null
    mkdir -p "$dir/bundle"
    cp -a "$dir/rootfs" "$dir/bundle/rootfs"
    python3 - "$dir/root/containers/$cid/config.json" "$dir/bundle/config.json" <<'PY'
import json, os, shutil, sys
spec = json.load(open(sys.argv[1]))
# The container's hosts/hostname/resolv.conf go with the bundle (the container is removed).
cdir, bdir = os.path.dirname(sys.argv[1]), os.path.dirname(sys.argv[2])
for m in spec["mounts"]:
    if m.get("source", "").startswith(cdir + "/"):
        dst = os.path.join(bdir, os.path.basename(m["source"]))
        shutil.copy(m["source"], dst)
        m["source"] = dst
spec["root"] = {"path": "rootfs", "readonly": False}
spec["process"]["terminal"] = False
spec["process"]["args"] = ["true"]
spec["linux"]["cgroupsPath"] = "/berth-bench-runc"
json.dump(spec, open(sys.argv[2], "w"))
PY
    b rm "$cid" >/dev/null
    have_runc=1
fi

echo "== run --rm busybox true" >&2
cmds=(-n "berth CLI > berth" "$berth -H unix://$sock run --rm --network none busybox true"
      -n "docker CLI > berth" "$docker_cli -H unix://$sock run --rm --network none busybox true")
[ "$have_docker" = 1 ] && cmds+=(-n "docker CLI > dockerd" "$docker_cli -H unix://$dsock run --rm --network none busybox true")
[ "$have_podman" = 1 ] && cmds+=(-n "podman" "podman run --rm --network none berth-bench-busybox true")
[ "$have_runc" = 1 ] && cmds+=(-n "runc run (bundle only)" "runc --root $dir/runc run -b $dir/bundle berth-bench")
hyperfine -N -w 3 -r "$runs" --export-json "$dir/results/run-rm.json" "${cmds[@]}" >&2

echo "== $many x run -d, then rm -f" >&2
cat >"$dir/many.sh" <<EOF
#!/usr/bin/env bash
set -e
cli="\$1"
for i in \$(seq 1 $many); do \$cli run -d --network none \$2 sleep 1000 >/dev/null; done
\$cli rm -f \$(\$cli ps -aq) >/dev/null
EOF
chmod +x "$dir/many.sh"
mcmds=(-n "berth CLI > berth" "$dir/many.sh '$berth -H unix://$sock' busybox"
       -n "docker CLI > berth" "$dir/many.sh '$docker_cli -H unix://$sock' busybox")
[ "$have_docker" = 1 ] && mcmds+=(-n "docker CLI > dockerd" "$dir/many.sh '$docker_cli -H unix://$dsock' busybox")
[ "$have_podman" = 1 ] && mcmds+=(-n "podman" "$dir/many.sh podman berth-bench-busybox")
hyperfine -N -r "${MANY_RUNS:-3}" --export-json "$dir/results/many.json" "${mcmds[@]}" >&2

echo "== memory" >&2
for i in $(seq 1 "$many"); do b run -d --network none busybox sleep 1000 >/dev/null; done
sleep 2
daemon_rss=$(ps -o rss= -p "$berth_pid" | tr -d ' ')
shim_rss=$(pgrep -f "berth shim --id .* --state-dir $dir/exec/c/" | xargs -r ps -o rss= -p |
    sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
b rm -f $(b ps -aq) >/dev/null

python3 - "$dir/results" "$daemon_rss" "$shim_rss" "$many" <<'PY'
import json, sys, os
res, daemon_rss, shim_rss, many = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def table(name, title, unit=1000.0, suffix="ms"):
    data = json.load(open(os.path.join(res, name)))["results"]
    base = next((r["median"] for r in data if r["command"] == "docker CLI > dockerd"), None)
    print(f"\n| {title} | median | ratio to dockerd |\n|---|---|---|")
    for r in data:
        ratio = f"{r['median'] / base:.2f}" if base else "-"
        print(f"| {r['command']} | {r['median'] * unit:.1f} {suffix} | {ratio} |")
    return {r["command"]: r["median"] for r in data}
run = table("run-rm.json", "`run --rm busybox true`")
if "runc run (bundle only)" in run:
    print(f"\nberth CLI / bare runc run: {run['berth CLI > berth'] / run['runc run (bundle only)']:.2f}x")
table("many.json", f"{many} x `run -d` + `rm -f`", 1.0, "s")
print(f"\nmemory with {many} running containers: daemon RSS {daemon_rss / 1024:.1f} MB, "
      f"median shim RSS {shim_rss / 1024:.2f} MB")
PY
