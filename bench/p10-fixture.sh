#!/usr/bin/env bash
# p10-fixture.sh up|down: "a few domains" on every host of $KILN_KVM_WORK/hosts.json for bench P10
# (three defined per host, the first running), made the way an admin would, with virsh over ssh.
# The domains are named p10-HOST-N; `down` removes exactly those.
set -euo pipefail
# shellcheck source=../test/kvm-hosts/lib.sh
source "$(dirname "$(readlink -f "$0")")/../test/kvm-hosts/lib.sh"
count=$(j '.hosts | length')
for ((i = 0; i < count; i++)); do
    host=$(j ".hosts[$i].name")
    for n in 1 2 3; do
        dom="p10-$host-$n"
        # Always remove first, so that `up` after an interrupted run starts clean.
        on "$i" "virsh destroy $dom; virsh undefine $dom; rm -f $(serial_log "$dom")" >/dev/null 2>&1 || true
        if [ "${1:-up}" = up ]; then
            domain_xml "$dom" | on "$i" "virsh define /dev/stdin >/dev/null"
            [ "$n" = 1 ] && on "$i" "virsh start $dom >/dev/null"
        fi
    done &
done
wait
