#!/usr/bin/env bash
# smoke.sh - end-to-end check of the hosts made by `hosts.sh setup`, using only
# what a client such as Kiln has: hosts.json, ssh, and virsh on the hosts.
#
#   on host1: clone a qcow2 disk from the template (kiln pool), define a TCG
#   domain (direct kernel boot, serial pty logged to a file), start it, wait for
#   the boot banner, type commands on the serial console, ACPI shutdown, start
#   it again; live-migrate it to host2 over ssh; check it runs there (same
#   guest, no reboot); destroy, undefine, delete the volume.
#
# Exits non-zero on the first failure; prints the time of every step.
# Environment: KILN_KVM_WORK (default /tmp/kiln-kvm), SMOKE_DOMAIN (default kiln-smoke).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"

DOM=${SMOKE_DOMAIN:-kiln-smoke}
VOL=$DOM.qcow2
DISK=$STORAGE/$VOL
LOG=$(serial_log "$DOM")

on_fail() {
    echo "--- serial log on ${NAME[0]}:"; on 0 "tail -20 $LOG" 2>/dev/null || true
    echo "--- serial log on ${NAME[1]}:"; on 1 "tail -20 $LOG" 2>/dev/null || true
    echo "SMOKE FAILED (domain '$DOM' left for inspection; the next run removes it)"
}

clone_disk() {   # linked clone: a qcow2 overlay whose backing file is the template
    on 0 "virsh -q vol-create-as $POOL $VOL 64M --format qcow2 \
              --backing-vol $TEMPLATE --backing-vol-format qcow2 >/dev/null"
}
define()   { domain_xml "$DOM" "$DISK" | on 0 "virsh -q define /dev/stdin >/dev/null"; }
start()    { on 0 "virsh -q start $DOM >/dev/null"; }
shutdown() { on 0 "virsh -q shutdown $DOM >/dev/null"; }
logged_poweroff() { on 0 "grep -q KILN-GUEST-POWEROFF $LOG"; }

check_console() {   # check_console I: the shell answers and the disk reads the template
    local out
    out=$(console "$1" "$DOM" 'echo KILN-ECHO-$((6*7)) on $(hostname)' 'head -c 16 /dev/vda; echo')
    grep -q "^KILN-ECHO-42 on $DOM" <<<"$out" && grep -q '^KILN-TEMPLATE-V1' <<<"$out" ||
        { echo "$out"; echo "unexpected console output"; return 1; }
}

# Run on the source host, as Kiln would over ssh; the source reaches the
# destination with qemu+ssh (hosts.sh set up host-to-host ssh trust).
# --unsafe: libvirt does not recognise the shared directory as shared storage.
migrate() {
    on 0 "virsh migrate --live --persistent --undefinesource --unsafe $DOM \
              qemu+ssh://${ADDR[1]}/system >/dev/null"
}
gone_from_src()  { ! on 0 "virsh -q list --all --name" | grep -qx "$DOM"; }
# A rebooted guest would have printed a new banner into host2's (new) log.
no_reboot_on_dst() { ! on 1 "grep -q '$READY' $LOG 2>/dev/null"; }
destroy_on_dst() {
    # host2's pool has not seen the volume yet: refresh before deleting it.
    on 1 "virsh -q destroy $DOM >/dev/null && virsh -q undefine $DOM >/dev/null &&
          virsh -q pool-refresh $POOL >/dev/null && virsh -q vol-delete --pool $POOL $VOL >/dev/null"
}

echo "smoke: $DOM on ${NAME[0]} (${ADDR[0]}) -> ${NAME[1]} (${ADDR[1]}), from $JSON"
step "cleanup of earlier runs"                 forget "$DOM" "$VOL"
step "clone disk from template (${NAME[0]})"   clone_disk
step "define (${NAME[0]})"                     define
step "start (${NAME[0]})"                      start
step "boot to $READY"                          wait_banner 0 "$DOM" 1
step "serial console: echo + read /dev/vda"    check_console 0
step "virsh shutdown (ACPI)"                   shutdown
step "... until shut off"                      wait_state 0 "$DOM" "shut off"
step "guest logged a clean power-off"          logged_poweroff
step "start again"                             start
step "boot to $READY (2nd)"                    wait_banner 0 "$DOM" 2
step "live migrate ${NAME[0]} -> ${NAME[1]}"   migrate
step "running on ${NAME[1]}"                   wait_state 1 "$DOM" running
step "gone from ${NAME[0]}"                    gone_from_src
step "guest did not reboot on ${NAME[1]}"      no_reboot_on_dst
step "serial console on ${NAME[1]}"            check_console 1
step "destroy + undefine + delete volume"      destroy_on_dst
echo "SMOKE OK ($(fmt "$(ms "$T0")") s)"
