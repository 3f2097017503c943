#!/usr/bin/env bash
# faults.sh - exercises the failure-simulation commands of hosts.sh that Kiln's
# HA and security tests rely on, on the hosts made by `hosts.sh setup`:
#
#   kill-qemu   -> the domain ends up "shut off (crashed)"
#   stop-host   -> host1 unreachable; its VM is restarted on host2 from the
#                  shared disk (what an HA manager would do)
#   start-host  -> host1 answers again; its copy of the VM stays shut off
#   rekey-host  -> a client holding the old host key is refused; the hosts
#                  still trust each other (migration host2 -> host1 works)
#   stop-host --keep-link -> connections refused at once; start-host recovers
#
# Runs as root on the machine (it calls hosts.sh). Exits non-zero on failure.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"

DOM=kiln-faults
VOL=$DOM.qcow2
H=("${NAME[0]}" "${NAME[1]}")

on_fail() {
    "$HOSTS_SH" status || true
    echo "FAULTS FAILED (hosts may be left stopped: run hosts.sh start-host NAME or setup)"
}

prepare() {
    on 0 "virsh -q vol-create-as $POOL $VOL 64M --format qcow2 \
              --backing-vol $TEMPLATE --backing-vol-format qcow2 >/dev/null" &&
        domain_xml "$DOM" "$STORAGE/$VOL" | on 0 "virsh -q define /dev/stdin >/dev/null"
}
start_on()   { on "$1" "virsh -q start $DOM >/dev/null"; }
crashed()    { [ "$(on 0 "virsh domstate --reason $DOM")" = "shut off (crashed)" ]; }
# A host that is down must not answer ssh (the link is cut: the connect times out).
unreachable() { ! on 0 -o ConnectTimeout=3 true 2>/dev/null; }
refused_fast() {
    local out
    out=$(on 1 -o ConnectTimeout=3 true 2>&1) && return 1
    grep -q 'Connection refused' <<<"$out"
}
status_says_down() { ! "$HOSTS_SH" status >/dev/null; }
ha_restart_on_2() {   # same definition, same shared disk, other host
    domain_xml "$DOM" "$STORAGE/$VOL" | on 1 "virsh -q define /dev/stdin >/dev/null && virsh -q start $DOM >/dev/null"
}
back_and_shut_off() { on 0 true && [ "$(on 0 "virsh domstate $DOM")" = "shut off" ]; }
undefine_on_1() { on 0 "virsh -q undefine $DOM >/dev/null"; }

OLD_KNOWN=$(mktemp); trap 'rm -f "$OLD_KNOWN"' EXIT
rekey() { cp "$KNOWN" "$OLD_KNOWN"; "$HOSTS_SH" rekey-host "${H[1]}" 2>/dev/null; }
old_key_refused() {
    local out
    out=$(ssh -i "$(j '.hosts[1].privateKeyPath')" -o UserKnownHostsFile="$OLD_KNOWN" \
              -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=5 \
              "root@${ADDR[1]}" true 2>&1) && return 1
    grep -q 'REMOTE HOST IDENTIFICATION HAS CHANGED' <<<"$out"
}
json_has_new_key() {
    [ "$(j '.hosts[1].sshHostKeyFingerprint')" = "$(ssh-keygen -lf "$(j '.hosts[1].sshHostKeyPath')" | awk '{print $2}')" ] &&
        on 1 true
}
migrate_back() {
    on 1 "virsh migrate --live --persistent --undefinesource --unsafe $DOM qemu+ssh://${ADDR[0]}/system >/dev/null" &&
        [ "$(on 0 "virsh domstate $DOM")" = running ]
}
cleanup() {
    on 0 "virsh -q destroy $DOM >/dev/null; virsh -q undefine $DOM >/dev/null; virsh -q pool-refresh $POOL >/dev/null;
          virsh -q vol-delete --pool $POOL $VOL >/dev/null"
}

echo "faults: $DOM on ${H[0]} / ${H[1]}, from $JSON"
step "cleanup of earlier runs"                       forget "$DOM" "$VOL"
step "define + start on ${H[0]}"                     eval 'prepare && start_on 0'
step "boot to $READY"                                wait_banner 0 "$DOM" 1
step "kill-qemu ${H[0]} $DOM"                        quiet "$HOSTS_SH" kill-qemu "${H[0]}" "$DOM"
step "... shut off (crashed)"                        eval 'wait_state 0 "$DOM" "shut off" && crashed'
step "start again on ${H[0]}"                        start_on 0
step "boot to $READY (2nd)"                          wait_banner 0 "$DOM" 2
step "stop-host ${H[0]}"                             quiet "$HOSTS_SH" stop-host "${H[0]}"
step "${H[0]} unreachable (ssh times out)"          unreachable
step "hosts.sh status reports it down"               status_says_down
step "HA: define + start $DOM on ${H[1]}"            ha_restart_on_2
step "boot on ${H[1]}"                               wait_banner 1 "$DOM" 1
step "start-host ${H[0]}"                            quiet "$HOSTS_SH" start-host "${H[0]}"
step "${H[0]} back, its copy of $DOM shut off"      back_and_shut_off
step "undefine the stale copy on ${H[0]}"            undefine_on_1
step "rekey-host ${H[1]}"                            rekey
step "old pinned host key is refused"                old_key_refused
step "hosts.json has the new key, ssh works"         json_has_new_key
step "migrate ${H[1]} -> ${H[0]} after rekey"        migrate_back
step "stop-host ${H[1]} --keep-link"                 quiet "$HOSTS_SH" stop-host "${H[1]}" --keep-link
step "${H[1]} refuses connections at once"           refused_fast
step "start-host ${H[1]}"                            quiet "$HOSTS_SH" start-host "${H[1]}"
step "status: all hosts answer"                      quiet "$HOSTS_SH" status
step "destroy + undefine + delete volume"            cleanup
echo "FAULTS OK ($(fmt "$(ms "$T0")") s)"
