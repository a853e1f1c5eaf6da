#!/usr/bin/env bash
# Demo: build berth, make sure its daemon runs, import a busybox image and list it with
# both the berth CLI and (if present) the real docker CLI. Run as root.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
work="${BERTH_DEMO_DIR:-/tmp/berth-demo}"
sock="/run/berth/berth.sock"
export PATH="$HOME/.cargo/bin:$PATH"

if [ "$(id -u)" -ne 0 ]; then
    echo "demo: run as root (the daemon owns /run/berth and /var/lib/berth)" >&2
    exit 1
fi

echo "== building berth (release; several minutes on 2 cores the first time)"
(cd "$root" && cargo build --release -p berth)
berth="$root/target/release/berth"

# busybox-static: the demo image's rootfs; nftables: the `nft` binary berth applies its
# own firewall table with (bridge NAT, published ports).
missing=()
[ -x /bin/busybox ] || missing+=(busybox-static)
command -v nft >/dev/null 2>&1 || missing+=(nftables)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "== installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

echo "== daemon"
# As root, the CLI starts the daemon itself when the default socket is absent.
if ! "$berth" version >/dev/null 2>&1; then
    echo "demo: the CLI did not reach or start a daemon; starting 'berth daemon' in the background"
    nohup "$berth" daemon >/var/log/berth-daemon.log 2>&1 &
    for _ in $(seq 1 100); do
        [ -S "$sock" ] && "$berth" version >/dev/null 2>&1 && break
        sleep 0.1
    done
fi
"$berth" version

echo "== making a busybox rootfs in $work/rootfs"
rm -rf "$work"
mkdir -p "$work/rootfs"
cd "$work/rootfs"
mkdir -p bin sbin usr/bin usr/sbin etc dev proc sys var root tmp
chmod 0700 root
chmod 1777 tmp
cp /bin/busybox bin/busybox
# Like `busybox --install -s`, but into the rootfs (never the host): one symlink per applet.
/bin/busybox --list-full | while read -r applet; do
    [ "$applet" = "bin/busybox" ] && continue
    ln -sf /bin/busybox "$applet"
done
printf 'hosts: files dns\n' >etc/nsswitch.conf
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\n' >etc/group
tar --numeric-owner --owner=0 --group=0 -C "$work/rootfs" -cf "$work/busybox.tar" .

echo "== berth import"
"$berth" import --change 'CMD ["sh"]' -m "busybox demo rootfs" "$work/busybox.tar" busybox:latest

echo "== berth images"
"$berth" images
echo "== berth history busybox"
"$berth" history busybox

echo "== berth run --rm busybox (a confined container: own namespaces, docker's caps and seccomp)"
"$berth" run --rm busybox sh -c 'echo "hello from $(hostname)"; grep -E "^(CapEff|Seccomp):" /proc/self/status'

echo "== a web server on a published port, serving a named volume"
"$berth" rm -f demo-web demo-db >/dev/null 2>&1 || true
"$berth" network rm demo-net >/dev/null 2>&1 || true
"$berth" volume rm demo-www >/dev/null 2>&1 || true
"$berth" volume create demo-www
"$berth" run --rm -v demo-www:/www busybox sh -c 'echo "hello over a published port" >/www/index.html'
"$berth" run -d --name demo-web -p 127.0.0.1::80 -v demo-www:/www busybox httpd -f -h /www >/dev/null
addr="$("$berth" port demo-web 80)"
echo "demo-web publishes 80/tcp on $addr"
for _ in $(seq 1 50); do
    /bin/busybox wget -qO- "http://$addr/" 2>/dev/null && break
    sleep 0.1
done
"$berth" rm -f demo-web >/dev/null

echo "== two containers find each other by name on a user-defined network"
"$berth" network create demo-net
"$berth" run -d --name demo-db --network demo-net busybox sleep 60 >/dev/null
"$berth" run --rm --network demo-net busybox ping -c 1 demo-db
"$berth" rm -f demo-db >/dev/null
"$berth" network rm demo-net >/dev/null
"$berth" volume rm demo-www >/dev/null

echo "== berth build: a two-stage Dockerfile (stages run in parallel), then a cached rebuild"
mkdir -p "$work/app"
echo "hello from a built image" >"$work/app/greeting.txt"
cat >"$work/app/Dockerfile" <<'DF'
FROM busybox AS words
RUN echo "built by berth" > /words
FROM busybox
COPY greeting.txt /greeting.txt
COPY --from=words /words /words
CMD ["sh", "-c", "cat /greeting.txt /words"]
DF
"$berth" build --progress=plain -t demo-app "$work/app"
"$berth" build -q -t demo-app "$work/app" >/dev/null
"$berth" run --rm demo-app
"$berth" rmi demo-app >/dev/null

if [ -x /usr/local/bin/docker ] || command -v docker >/dev/null 2>&1; then
    docker_cli="$(command -v docker || echo /usr/local/bin/docker)"
    echo "== the real docker CLI against berth: DOCKER_HOST=unix://$sock docker images"
    DOCKER_HOST="unix://$sock" "$docker_cli" images
    echo "== DOCKER_HOST=unix://$sock docker run --rm busybox echo ..."
    DOCKER_HOST="unix://$sock" "$docker_cli" run --rm busybox echo "hello through the docker CLI"
else
    echo "== (no docker CLI found; with one: DOCKER_HOST=unix://$sock docker images)"
fi
