#!/usr/bin/env bash
# Makes a local `registry` image that runs `berth registry serve`, so the user's notes'
#   docker run -d -p 5000:5000 --restart=always --name registry registry
#   docker run -d -p 5000:5000 -v /opt/data/registry:/var/lib/registry registry
# work without Docker Hub. The image holds the berth binary and the shared libraries it
# links (from ldd), nothing else.
#
# usage: scripts/registry-image.sh [TAG]      (default registry:latest)
# env:   BERTH_BIN  the berth binary to package (default: `berth` on PATH)
#        CLI        the client that imports it (default: the same berth; `docker` works too)
set -euo pipefail

bin="${BERTH_BIN:-$(command -v berth || true)}"
[ -x "$bin" ] || { echo "registry-image: no berth binary (set BERTH_BIN)" >&2; exit 1; }
cli="${CLI:-$bin}"
tag="${1:-registry:latest}"

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
install -D -m 0755 "$bin" "$root/bin/berth"
# Every library the binary loads, at the same path (the loader included).
for lib in $(ldd "$bin" | grep -o '/[^ )]*'); do
    install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
done
mkdir -p "$root/var/lib/registry" "$root/etc" "$root/tmp"
chmod 1777 "$root/tmp"
echo 'hosts: files dns' >"$root/etc/nsswitch.conf"

tar -C "$root" --owner=0 --group=0 -c . | "$cli" import \
    --change 'ENTRYPOINT ["/bin/berth", "registry", "serve"]' \
    --change 'CMD ["--addr", "0.0.0.0:5000", "--data-root", "/var/lib/registry"]' \
    --change 'EXPOSE 5000' \
    --change 'VOLUME /var/lib/registry' \
    -m "berth registry serve" - "$tag"
