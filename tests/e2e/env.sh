#!/usr/bin/env bash
# End-to-end environment for decant: a private Docker 20.10 daemon (BuildKit v0.8) in a network
# namespace of its own, the local base images, and the frontend image.
#
# Sourced by tests/run (which calls e2e_setup and, from a trap, e2e_stop_daemon), or run directly:
#   tests/e2e/env.sh up       # set everything up and leave the daemon running (prints the env to use)
#   tests/e2e/env.sh down     # stop the daemon that `up` started
#   tests/e2e/env.sh status
# Idempotent: an already running daemon of ours is reused (and then not stopped by tests/run),
# images are only re-imported when their source tarball changed, debootstrap runs once per machine.
#
# Everything here is off the network except apt (package installs and debootstrap from Debian's mirror).

E2E_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# One daemon per checkout (CI's fresh clone, each worktree): they never share an image store or a
# frontend tag. The base-image tarballs are shared by all.
E2E_KEY="$(printf '%s' "$E2E_REPO" | sha256sum | cut -c1-8)"

# Paths (overridable). The socket path must stay short (unix socket paths are limited to 108 bytes).
: "${DECANT_E2E_CACHE:=/var/cache/decant-e2e}"        # base-image tarballs: survive between runs
: "${DECANT_E2E_ROOT:=/var/lib/decant-e2e/$E2E_KEY}"  # data-root and import stamps (images survive)
: "${DECANT_E2E_RUN:=/run/decant-e2e/$E2E_KEY}"       # socket, pidfile, exec-root, daemon log
: "${DECANT_E2E_SUITE:=bookworm}"
: "${DECANT_FRONTEND_IMAGE:=decant/frontend:dev}"

E2E_DOCKER=/usr/bin/docker                       # Debian's client: the only one with BuildKit here
E2E_SOCK="$DECANT_E2E_RUN/docker.sock"
E2E_PIDFILE="$DECANT_E2E_RUN/docker.pid"
E2E_LOG="$DECANT_E2E_RUN/dockerd.log"
E2E_STARTED_PID=""                               # set only when this shell started the daemon

export DOCKER_HOST="unix://$E2E_SOCK"
export DOCKER_BUILDKIT=1
export DECANT_DOCKER="$E2E_DOCKER"
export DECANT_FRONTEND_IMAGE
export DECANT_E2E_BUSYBOX_TAR="$DECANT_E2E_CACHE/busybox.tar"
# Keep docker's client config (and any credential helpers) out of the picture.
export DOCKER_CONFIG="$DECANT_E2E_RUN/client-config"

e2e_log() { printf '[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
e2e_die() { e2e_log "ERROR: $*"; return 1; }
e2e_docker() { "$E2E_DOCKER" "$@"; }

# --- packages -----------------------------------------------------------------------------------
e2e_install_packages() {
    local missing=()
    [ -x /usr/sbin/dockerd ] && [ -x /usr/bin/docker ] || missing+=(docker.io)
    [ -x /bin/busybox ] && file_is_static /bin/busybox || missing+=(busybox-static)
    command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
    command -v ip >/dev/null 2>&1 || missing+=(iproute2)
    command -v ssh-agent >/dev/null 2>&1 || missing+=(openssh-client)   # the ssh mount test
    # The frontend binary links glibc statically (libc.a) and builds mimalloc's C.
    { command -v cc >/dev/null 2>&1 && [ -e "$(cc -print-file-name=libc.a)" ]; } || missing+=(gcc libc6-dev)
    if [ "${#missing[@]}" -gt 0 ]; then
        e2e_log "installing: ${missing[*]}"
        [ "$(id -u)" = 0 ] || e2e_die "need root to apt-get install ${missing[*]}" || return 1
        # Keep apt from starting a system-wide dockerd/containerd: we run our own, and touch no other.
        local policy=""
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            policy=/usr/sbin/policy-rc.d
            printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
        fi
        local rc=0
        DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=1
        [ -z "$policy" ] || rm -f "$policy"
        [ "$rc" = 0 ] || return 1
    fi
    # Never let anything pick up /usr/local/bin/docker (a newer client without BuildKit support here).
    [ -x "$E2E_DOCKER" ] || e2e_die "$E2E_DOCKER missing"
}

file_is_static() {
    # busybox (Debian's `busybox` package) may be dynamic; we need busybox-static's binary.
    ! LC_ALL=C readelf -l "$1" 2>/dev/null | grep -q 'INTERP' 2>/dev/null && [ -s "$1" ]
}

# --- daemon -------------------------------------------------------------------------------------
e2e_daemon_alive() {
    local pid
    [ -S "$E2E_SOCK" ] && [ -f "$E2E_PIDFILE" ] || return 1
    pid="$(cat "$E2E_PIDFILE" 2>/dev/null)" || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = dockerd ] || return 1
    timeout 10 "$E2E_DOCKER" info >/dev/null 2>&1
}

e2e_start_daemon() {
    if e2e_daemon_alive; then
        e2e_log "reusing running dockerd (pid $(cat "$E2E_PIDFILE")) at $E2E_SOCK"
        return 0
    fi
    mkdir -p "$DECANT_E2E_RUN" "$DECANT_E2E_ROOT" "$DOCKER_CONFIG"
    # A stale pidfile (daemon killed hard) would make dockerd refuse to start.
    if [ -f "$E2E_PIDFILE" ]; then
        local old; old="$(cat "$E2E_PIDFILE" 2>/dev/null || true)"
        if [ -n "$old" ] && kill -0 "$old" 2>/dev/null && [ "$(cat /proc/"$old"/comm 2>/dev/null)" = dockerd ]; then
            e2e_die "dockerd pid $old owns $E2E_PIDFILE but does not answer; stop it first (tests/e2e/env.sh down)" || return 1
        fi
        rm -f "$E2E_PIDFILE"
    fi
    rm -f "$E2E_SOCK"
    e2e_log "starting dockerd (data-root $DECANT_E2E_ROOT, socket $E2E_SOCK, log $E2E_LOG)"
    # Own network namespace: only loopback and the daemon's own default bridge (docker0 inside the
    # namespace; BuildKit in 20.10 needs the default bridge to run a frontend container). No iptables,
    # no forwarding: builds have no way out, which is what we want (nothing can be pulled anyway).
    # `unshare` (without --fork) and `sh` both exec, so $! is dockerd's own pid.
    unshare --net sh -c 'ip link set lo up; exec "$@"' sh \
        dockerd --iptables=false --ip-masq=false --ip-forward=false --ip6tables=false \
        --data-root "$DECANT_E2E_ROOT/root" --exec-root "$DECANT_E2E_RUN/exec" \
        -H "unix://$E2E_SOCK" --pidfile "$E2E_PIDFILE" \
        --storage-driver overlay2 --log-level warn \
        >"$E2E_LOG" 2>&1 </dev/null &
    E2E_STARTED_PID=$!
    local i
    for i in $(seq 1 120); do
        if ! kill -0 "$E2E_STARTED_PID" 2>/dev/null; then
            e2e_log "dockerd exited early; its log:"; cat "$E2E_LOG" >&2
            E2E_STARTED_PID=""
            return 1
        fi
        if [ -S "$E2E_SOCK" ] && timeout 5 "$E2E_DOCKER" info >/dev/null 2>&1; then
            e2e_log "dockerd up (pid $E2E_STARTED_PID) after ~$((i / 4))s"
            return 0
        fi
        sleep 0.25
    done
    e2e_log "dockerd did not answer within 30s; its log:"; cat "$E2E_LOG" >&2
    e2e_stop_daemon
    return 1
}

# Stop the daemon only if this shell started it (or, with `force`, the one in our pidfile: env.sh down).
e2e_stop_daemon() {
    local pid="$E2E_STARTED_PID"
    if [ "${1:-}" = force ] && [ -z "$pid" ] && [ -f "$E2E_PIDFILE" ]; then
        pid="$(cat "$E2E_PIDFILE" 2>/dev/null || true)"
        [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = dockerd ] || pid=""
    fi
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        e2e_log "stopping dockerd pid $pid"
        kill -TERM "$pid" 2>/dev/null || true
        local i
        for i in $(seq 1 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        if kill -0 "$pid" 2>/dev/null; then
            e2e_log "dockerd pid $pid ignored SIGTERM for 20s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    fi
    E2E_STARTED_PID=""
}

# --- base images --------------------------------------------------------------------------------
# Import $2 (a tarball) as $1 unless the image is there already from the same tarball and options.
e2e_import() {
    local tag="$1" tar="$2"; shift 2
    local stampdir="$DECANT_E2E_ROOT/stamps" key want have
    mkdir -p "$stampdir"
    key="$(printf '%s\n' "$(sha256sum <"$tar" | cut -d' ' -f1)" "$@" | sha256sum | cut -d' ' -f1)"
    want="$(cat "$stampdir/${tag//[:\/]/_}" 2>/dev/null || true)"
    have="$("$E2E_DOCKER" image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)"
    if [ -n "$have" ] && [ "$want" = "$key $have" ]; then
        return 0
    fi
    local args=() c
    for c in "$@"; do args+=(--change "$c"); done
    e2e_log "importing $tag from $tar"
    have="$("$E2E_DOCKER" import "${args[@]}" "$tar" "$tag" | tail -n1)" || return 1
    have="$("$E2E_DOCKER" image inspect -f '{{.Id}}' "$tag")" || return 1
    echo "$key $have" >"$stampdir/${tag//[:\/]/_}"
}

# A tiny root filesystem from Debian's busybox-static: /bin/busybox, applet symlinks, /etc/passwd.
e2e_busybox_tar() {
    local out="$DECANT_E2E_BUSYBOX_TAR" dir
    mkdir -p "$DECANT_E2E_CACHE"
    dir="$(mktemp -d)"
    # A separate bash: `set -e` inside a ( subshell ) that is followed by `||` would be ignored.
    bash -euo pipefail -c '
        dir="$1" out="$2"
        chmod 755 "$dir" # becomes the image root: mktemp 0700 would lock out non-root users
        cd "$dir"
        mkdir -p bin sbin usr/bin usr/sbin etc root tmp var/tmp proc sys dev home
        chmod 1777 tmp var/tmp
        cp /bin/busybox bin/busybox
        for a in $(/bin/busybox --list-full); do
            [ "$a" = bin/busybox ] && continue
            mkdir -p "$(dirname "$a")"
            ln -sf /bin/busybox "$a"
        done
        [ -e bin/sh ] || ln -s busybox bin/sh
        for t in sh sleep cat echo wget env ls id; do [ -e "bin/$t" ] || [ -e "usr/bin/$t" ] || { echo "busybox lacks $t" >&2; exit 1; }; done
        printf "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n" >etc/passwd
        printf "root:x:0:\nnogroup:x:65534:\n" >etc/group
        tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$out.tmp" .
    ' _ "$dir" "$out.$$" || { rm -rf "$dir"; return 1; }
    rm -rf "$dir"
    if [ -f "$out" ] && cmp -s "$out" "$out.$$.tmp"; then rm -f "$out.$$.tmp"; else mv "$out.$$.tmp" "$out"; fi
}

e2e_debian_mirror() {
    # The URI of Debian's main archive as this machine's apt is configured (deb822 or one-line form).
    local uri
    uri="$(grep -hE '^\s*URIs:' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
        awk '{print $2}' | grep -vE 'security|updates' | grep -E '/debian/?$' | head -n1)"
    [ -n "$uri" ] || uri="$(grep -hE '^\s*deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        grep -vE 'security' | awk '{for(i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' |
        grep -E '/debian/?$' | head -n1)"
    [ -n "$uri" ] || uri="http://deb.debian.org/debian"
    echo "$uri"
}

# Debian $SUITE minbase + gcc + libc6-dev, built with debootstrap once and cached as a tarball.
e2e_debian_gcc_tar() {
    local out="$DECANT_E2E_CACHE/debian-gcc-$DECANT_E2E_SUITE-v1.tar"
    if [ -s "$out" ]; then return 0; fi
    mkdir -p "$DECANT_E2E_CACHE"
    local dir mirror t0
    dir="$(mktemp -d "$DECANT_E2E_CACHE/rootfs.XXXXXX")"
    chmod 755 "$dir" # mktemp makes it 0700: that would become the image's / and lock out non-root users
    mirror="$(e2e_debian_mirror)"
    t0=$(date +%s)
    e2e_log "debootstrap $DECANT_E2E_SUITE (minbase + gcc, libc6-dev) from $mirror (once per machine)"
    if ! debootstrap --variant=minbase --include=gcc,libc6-dev "$DECANT_E2E_SUITE" "$dir" "$mirror" \
        >"$DECANT_E2E_CACHE/debootstrap.log" 2>&1; then
        e2e_log "debootstrap failed; last lines of its log:"; tail -n 40 "$DECANT_E2E_CACHE/debootstrap.log" >&2
        e2e_cleanup_rootfs "$dir"
        return 1
    fi
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/var/log/* 2>/dev/null || true
    e2e_cleanup_rootfs "$dir" keep
    tar -C "$dir" --numeric-owner --xattrs -cf "$out.$$.tmp" . && mv "$out.$$.tmp" "$out"
    e2e_cleanup_rootfs "$dir"
    e2e_log "debootstrap + tar took $(( $(date +%s) - t0 ))s; $(du -h "$out" | cut -f1) tarball"
    echo "$(( $(date +%s) - t0 ))" >"$DECANT_E2E_CACHE/debootstrap.seconds"
}

e2e_cleanup_rootfs() {
    # debootstrap may leave proc/sys mounted inside the target if it fails; never rm -rf through a mount.
    local dir="$1" m
    for m in $(awk -v d="$dir" '$2 ~ "^"d {print $2}' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null || true; done
    [ "${2:-}" = keep ] || rm -rf --one-file-system "$dir"
}

e2e_images() {
    e2e_busybox_tar || return 1
    e2e_import busybox:local "$DECANT_E2E_BUSYBOX_TAR" \
        'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' 'CMD ["/bin/sh"]' || return 1
    # A base image carrying config (ENV, WORKDIR, USER-less) for the config-inheritance test.
    e2e_import busybox-env:local "$DECANT_E2E_BUSYBOX_TAR" \
        'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' 'ENV FOO=bar' \
        'WORKDIR /srv' 'CMD ["/bin/sh"]' || return 1
    e2e_debian_gcc_tar || return 1
    e2e_import debian-gcc:local "$DECANT_E2E_CACHE/debian-gcc-$DECANT_E2E_SUITE-v1.tar" \
        'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' 'ENV LANG=C.UTF-8' \
        'CMD ["/bin/bash"]' || return 1
}

# --- the frontend image -------------------------------------------------------------------------
e2e_frontend() {
    local t0; t0=$(date +%s)
    e2e_log "building the static frontend binary"
    (
        cd "$E2E_REPO" &&
            CARGO_TARGET_DIR="$E2E_REPO/target" RUSTFLAGS='-C target-feature=+crt-static' \
                cargo build --release --locked --target x86_64-unknown-linux-gnu -p decant
    ) || return 1
    local bin="$E2E_REPO/target/x86_64-unknown-linux-gnu/release/decant"
    if LC_ALL=C readelf -l "$bin" | grep -q INTERP; then
        e2e_die "$bin is not static" || return 1
    fi
    e2e_log "building $DECANT_FRONTEND_IMAGE (Dockerfile --target local)"
    "$E2E_DOCKER" build --progress=plain --target local -t "$DECANT_FRONTEND_IMAGE" \
        -f "$E2E_REPO/Dockerfile" "$E2E_REPO" >"$DECANT_E2E_RUN/frontend-build.log" 2>&1 || {
        cat "$DECANT_E2E_RUN/frontend-build.log" >&2; return 1; }
    e2e_log "frontend image ready in $(( $(date +%s) - t0 ))s: $("$E2E_DOCKER" image inspect -f '{{.Size}}' "$DECANT_FRONTEND_IMAGE") bytes"
}

# Drop BuildKit's cache (images stay) so every run starts from the same state.
# Also drop images that e2e runs killed before their cleanup left behind.
e2e_prune_cache() {
    local stale
    stale="$("$E2E_DOCKER" images -q 'decant-e2e/*' | sort -u)" || return 1
    [ -z "$stale" ] || "$E2E_DOCKER" rmi -f $stale >/dev/null || true
    "$E2E_DOCKER" builder prune -af >/dev/null
}

e2e_setup() {
    e2e_install_packages || return 1
    e2e_start_daemon || return 1
    e2e_prune_cache || return 1
    e2e_images || return 1
    e2e_frontend || return 1
}

e2e_print_env() {
    printf 'export DOCKER_HOST=%q DOCKER_BUILDKIT=1 DOCKER_CONFIG=%q DECANT_DOCKER=%q DECANT_FRONTEND_IMAGE=%q DECANT_E2E_BUSYBOX_TAR=%q\n' \
        "$DOCKER_HOST" "$DOCKER_CONFIG" "$DECANT_DOCKER" "$DECANT_FRONTEND_IMAGE" "$DECANT_E2E_BUSYBOX_TAR"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    case "${1:-up}" in
    up)
        e2e_setup
        E2E_STARTED_PID="" # leave it running
        e2e_log "daemon left running; stop it with: $0 down"
        e2e_print_env
        ;;
    down) e2e_stop_daemon force ;;
    status) if e2e_daemon_alive; then e2e_log "up: pid $(cat "$E2E_PIDFILE")"; e2e_print_env; else e2e_log "down"; exit 1; fi ;;
    images) e2e_install_packages && e2e_busybox_tar && e2e_debian_gcc_tar ;;
    *) echo "usage: $0 [up|down|status|images]" >&2; exit 2 ;;
    esac
fi
