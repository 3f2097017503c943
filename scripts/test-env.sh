#!/usr/bin/env bash
# Brings up the real components the tests drive, on a fresh Debian machine (root, apt, no
# systemd): Debian's `cs` client, Chromium, the KVM test hosts (libvirt + qemu + sshd in
# network namespaces) and vcsim (Go + govmomi from Debian). Idempotent: what is already there is kept.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v cloudstack >/dev/null || need+=(cs)
command -v chromium >/dev/null || need+=(chromium)
command -v python3 >/dev/null || need+=(python3)
command -v go >/dev/null || need+=(golang-go)
[ -d /usr/share/gocode/src/github.com/vmware/govmomi/simulator ] || need+=(golang-github-vmware-govmomi-dev)
# Config drives are built with genisoimage (it brings isoinfo, which the tests read them with);
# real cloud-init reads Kiln's metadata service and config drive in test/integration/cloud-init.
command -v genisoimage >/dev/null || need+=(genisoimage)
command -v cloud-init >/dev/null || need+=(cloud-init)
if ((${#need[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "test-env: missing ${need[*]}; install them (apt-get install ${need[*]}) or run as root" >&2
    exit 1
  fi
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi

# The KVM host sets: the one the environment names (KILN_KVM_WORK, default /tmp/kiln-kvm), or each
# set in KILN_KVM_SHARD_SETS ("WORK:NET:BRIDGE:NS_PREFIX ...", which run-tests.js passes: the real
# test shards each get their own set).
if [ -x test/kvm-hosts/hosts.sh ] && [ "${KILN_SKIP_KVM:-0}" != 1 ]; then
  if [ -z "${KILN_KVM_SHARD_SETS:-}" ]; then
    test/kvm-hosts/hosts.sh setup 2
  else
    for set in $KILN_KVM_SHARD_SETS; do
      IFS=: read -r work net bridge prefix <<<"$set"
      KILN_KVM_WORK=$work KILN_KVM_NET=$net KILN_KVM_BRIDGE=$bridge KILN_KVM_NS_PREFIX=$prefix test/kvm-hosts/hosts.sh setup 2
    done
  fi
fi

# vcsim (test/vcsim/README.md): the binary is built once per machine and cached by a hash of its
# sources and toolchain, so this is a no-op after the first run; start keeps a running instance.
if [ -x test/vcsim/vcsim.sh ] && [ "${KILN_SKIP_VCSIM:-0}" != 1 ]; then
  test/vcsim/vcsim.sh start >/dev/null
fi
