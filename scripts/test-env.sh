#!/usr/bin/env bash
# Brings up the real components the tests drive, on a fresh Debian machine (root, apt, no
# systemd): Debian's `cs` client, Chromium, and the KVM test hosts (libvirt + qemu + sshd in
# network namespaces). Idempotent: what is already there is kept.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v cloudstack >/dev/null || need+=(cs)
command -v chromium >/dev/null || need+=(chromium)
command -v python3 >/dev/null || need+=(python3)
if ((${#need[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "test-env: missing ${need[*]}; install them (apt-get install ${need[*]}) or run as root" >&2
    exit 1
  fi
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi

if [ -x test/kvm-hosts/hosts.sh ] && [ "${KILN_SKIP_KVM:-0}" != 1 ]; then
  test/kvm-hosts/hosts.sh setup 2
fi
