#!/usr/bin/env bash
# Kiln's vCenter simulator for tests (see README.md): build once per machine, start, stop.
#   vcsim.sh build            build if the cached binary is missing; print its path
#   vcsim.sh path             print the cached binary's path; exit 1 if it is not built (never builds)
#   vcsim.sh start [FLAGS…]   build if needed, start on 127.0.0.1:0, write $WORK/vcsim.json; an
#                             instance of the current build already running in $WORK is kept
#                             (idempotent; its flags are not compared)
#   vcsim.sh stop             stop the instance in $WORK
#   vcsim.sh rekey            stop, drop the TLS certificate, start again with the same flags: a
#                             new thumbprint, as a reinstalled vCenter presents
# Env: KILN_VCSIM_WORK (default /tmp/kiln-vcsim): state of one instance (pid, log, cert, json).
#      KILN_VCSIM_CACHE: where binaries are cached (default /var/cache/kiln-vcsim when writable,
#      else ${XDG_CACHE_HOME:-~/.cache}/kiln-vcsim). A binary is keyed by a hash of the Go sources,
#      the Go version and the govmomi package version, so a change to any of them rebuilds.
set -euo pipefail
SRC=$(cd "$(dirname "$0")" && pwd)
WORK=${KILN_VCSIM_WORK:-/tmp/kiln-vcsim}
if [ -n "${KILN_VCSIM_CACHE:-}" ]; then CACHE=$KILN_VCSIM_CACHE
elif mkdir -p /var/cache/kiln-vcsim 2>/dev/null && [ -w /var/cache/kiln-vcsim ]; then CACHE=/var/cache/kiln-vcsim
else CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/kiln-vcsim; fi
GOVMOMI=/usr/share/gocode/src/github.com/vmware/govmomi

need_packages() {
  command -v go >/dev/null && [ -d "$GOVMOMI/simulator" ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "vcsim: missing golang-go / golang-github-vmware-govmomi-dev; apt-get install them or run as root" >&2
    return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends golang-go golang-github-vmware-govmomi-dev >/dev/null ||
    { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends golang-go golang-github-vmware-govmomi-dev >/dev/null; }
}

binary_path() {
  local go_version govmomi_version key
  go_version=$(go version 2>/dev/null || echo none)
  govmomi_version=$(dpkg-query -W -f='${Version}' golang-github-vmware-govmomi-dev 2>/dev/null || echo none)
  key=$({ cat "$SRC"/*.go; echo "$go_version"; echo "$govmomi_version"; } | sha256sum | cut -c1-16)
  echo "$CACHE/vcsim-$key"
}

build() {
  need_packages
  mkdir -p "$CACHE"
  local bin; bin=$(binary_path)
  if [ ! -x "$bin" ]; then
    # One build at a time per cache (parallel test workers may all ask for it).
    exec 9>"$CACHE/build.lock"
    flock 9
    if [ ! -x "$bin" ]; then
      local started=$SECONDS
      echo "vcsim: building $bin (a cold build takes about a minute)" >&2
      GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS=-trimpath GOPROXY=off GOCACHE="$CACHE/go-build" \
        sh -c 'cd "$1" && go build -o "$2" .' _ "$SRC" "$bin.tmp"
      mv "$bin.tmp" "$bin"
      # Keep the four newest builds, not just this one: another checkout (a CI run from a clone, a
      # second worktree) may still be using the binary of the sources it was started with.
      find "$CACHE" -maxdepth 1 -name 'vcsim-*' ! -name '*.tmp' -printf '%T@ %p\n' | sort -rn | tail -n +5 | cut -d' ' -f2- | xargs -r rm -f
      echo "vcsim: built in $((SECONDS - started)) s" >&2
    fi
    exec 9>&-
  fi
  echo "$bin"
}

# A process that has exited but is not reaped yet (no init reaping in a container) is gone too.
alive() { [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]; }
running() { [ -f "$WORK/pid" ] && alive "$(cat "$WORK/pid")"; }

start() {
  local bin; bin=$(build)
  mkdir -p "$WORK"
  if running && [ -f "$WORK/vcsim.json" ]; then
    # Kept only if it runs the current build; an instance of older sources is replaced.
    if [ "$(cat "$WORK/binary" 2>/dev/null)" = "$bin" ]; then
      echo "$WORK/vcsim.json"
      return 0
    fi
    stop
  fi
  if [ $# -gt 0 ]; then printf '%s\n' "$@" >"$WORK/args"; else : >"$WORK/args"; fi
  local args=(); mapfile -t args <"$WORK/args"
  rm -f "$WORK/vcsim.json"
  # The datastores are temp dirs; under $WORK they go with it even after a SIGKILL.
  mkdir -p "$WORK/tmp"
  TMPDIR="$WORK/tmp" "$bin" -l 127.0.0.1:0 -info "$WORK/vcsim.json" -tlscert "$WORK/cert.pem" -tlskey "$WORK/key.pem" "${args[@]}" \
    </dev/null >"$WORK/vcsim.log" 2>&1 &
  echo $! >"$WORK/pid"
  echo "$bin" >"$WORK/binary"
  for _ in $(seq 1 200); do
    [ -f "$WORK/vcsim.json" ] && { echo "$WORK/vcsim.json"; return 0; }
    running || break
    sleep 0.05
  done
  echo "vcsim did not start; its log:" >&2
  cat "$WORK/vcsim.log" >&2
  stop
  return 1
}

stop() {
  if running; then
    local pid; pid=$(cat "$WORK/pid")
    kill "$pid" # SIGTERM: vcsim removes its datastore temp dirs
    for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.02; done
    alive "$pid" && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$WORK/pid" "$WORK/vcsim.json" "$WORK/binary"
}

case "${1:-}" in
  build) build ;;
  path) command -v go >/dev/null || exit 1; bin=$(binary_path); [ -x "$bin" ] && echo "$bin" ;;
  start) shift; start "$@" ;;
  stop) stop ;;
  rekey)
    args=(); [ -f "$WORK/args" ] && mapfile -t args <"$WORK/args"
    stop; rm -f "$WORK/cert.pem" "$WORK/key.pem"; start "${args[@]}" ;;
  *) echo "usage: $0 build|path|start [FLAGS…]|stop|rekey" >&2; exit 2 ;;
esac
