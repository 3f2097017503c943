#!/usr/bin/env bash
# smoke.sh - end-to-end check of the hosts made by `hosts.sh setup`, using only
# what a client such as Kiln has: hosts.json, ssh and virsh on the hosts.
#
#   define a TCG domain on host1 (direct kernel boot, serial pty with a log file,
#   qcow2 disk cloned from the template) -> boot banner -> commands typed on the
#   serial console -> ACPI shutdown -> start again -> live migration to host2
#   over ssh -> still alive on host2 -> destroy, undefine, delete the volume.
#
# Exits non-zero on the first failure; prints the time of every step.
# Environment: KILN_KVM_WORK (default /tmp/kiln-kvm), SMOKE_DOMAIN (default kiln-smoke).
set -euo pipefail

WORK=$(realpath -m "${KILN_KVM_WORK:-/tmp/kiln-kvm}")
JSON=$WORK/hosts.json
DOM=${SMOKE_DOMAIN:-kiln-smoke}
[ -f "$JSON" ] || { echo "smoke: $JSON not found; run hosts.sh setup first" >&2; exit 1; }
command -v jq >/dev/null || { echo "smoke: jq is required" >&2; exit 1; }
[ "$(jq '.hosts | length' "$JSON")" -ge 2 ] || { echo "smoke: needs at least 2 hosts" >&2; exit 1; }

j() { jq -r "$1" "$JSON"; }
KNOWN=$(j .knownHostsPath)
POOL=$(j .poolName)
KERNEL=$(j .kernel)
INITRD=$(j .initrd)
TEMPLATE=$(j .templateImage)
CMDLINE="$(j .kernelCmdline) hostname=$DOM"
READY=$(j .guestReadyMarker)
SRC=$(j '.hosts[0].name'); SRC_ADDR=$(j '.hosts[0].address')
DST=$(j '.hosts[1].name'); DST_ADDR=$(j '.hosts[1].address')
DISK=$(j .storagePath)/$DOM.qcow2
# Serial log path as seen inside the hosts (each host has its own /var/log/libvirt).
SERIAL_LOG=/var/log/libvirt/qemu/$DOM-serial.log

# on HOSTINDEX CMD...: run a shell command on a host over ssh, with the key and
# pinned host keys from hosts.json (StrictHostKeyChecking=yes).
on() {
    local i=$1; shift
    ssh -i "$(j ".hosts[$i].privateKeyPath")" -p "$(j ".hosts[$i].port")" \
        -o IdentitiesOnly=yes -o UserKnownHostsFile="$KNOWN" -o StrictHostKeyChecking=yes \
        -o BatchMode=yes -o ConnectTimeout=5 -o LogLevel=ERROR \
        "$(j ".hosts[$i].username")@$(j ".hosts[$i].address")" "$@"
}

T0=$(date +%s%N)
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
fmt() { printf '%d.%02d' $(($1 / 1000)) $(($1 % 1000 / 10)); }
step() {   # step LABEL CMD...: run CMD, print its duration, abort on failure
    local label=$1 s; shift
    s=$(date +%s%N)
    if "$@"; then
        printf '[%7ss] %-44s %6ss\n' "$(fmt "$(ms "$T0")")" "$label" "$(fmt "$(ms "$s")")"
    else
        printf '[%7ss] %-44s FAILED\n' "$(fmt "$(ms "$T0")")" "$label"
        echo "--- serial log on $SRC:";  on 0 "tail -20 $SERIAL_LOG" 2>/dev/null || true
        echo "--- serial log on $DST:";  on 1 "tail -20 $SERIAL_LOG" 2>/dev/null || true
        echo "SMOKE FAILED (the domain '$DOM' is left for inspection; the next run cleans it up)"
        exit 1
    fi
}

# wait_banner HOSTINDEX COUNT: wait (on the host) until the serial log holds COUNT banners.
wait_banner() {
    on "$1" "for i in \$(seq 600); do
                [ \"\$(grep -c '$READY' $SERIAL_LOG 2>/dev/null)\" -ge $2 ] && exit 0; sleep 0.1
              done; exit 1"
}

# wait_state HOSTINDEX STATE: wait until `virsh domstate` prints STATE.
wait_state() {
    on "$1" "for i in \$(seq 300); do
                [ \"\$(virsh domstate $DOM 2>/dev/null)\" = '$2' ] && exit 0; sleep 0.1
              done; virsh domstate $DOM; exit 1"
}

# console HOSTINDEX INPUT...: type lines on the serial console through
# `ssh -tt ... virsh console` (it needs a tty), then Ctrl-] to detach; prints
# what came back. A leading \r gets a fresh prompt.
console() {
    local i=$1; shift
    {
        sleep 1; printf '\r'; sleep 0.5
        local line; for line in "$@"; do printf '%s\r' "$line"; sleep 0.7; done
        sleep 0.5; printf '\035'
    } | on "$i" -tt "virsh console --force $DOM" 2>&1 | tr -d '\r'
}

check_console() {   # check_console HOSTINDEX: shell answers, disk reads the template
    local out
    out=$(console "$1" 'echo KILN-ECHO-$((6*7)) on $(hostname)' 'head -c 16 /dev/vda; echo')
    grep -q "^KILN-ECHO-42 on $DOM" <<<"$out" &&
        grep -q '^KILN-TEMPLATE-V1' <<<"$out" ||
        { echo "$out"; echo "unexpected console output"; return 1; }
}

domain_xml() {
    # type='qemu': TCG. KVM is advertised by libvirt here but does not work.
    cat <<EOF
<domain type='qemu'>
  <name>$DOM</name>
  <memory unit='MiB'>256</memory>
  <currentMemory unit='MiB'>128</currentMemory>
  <vcpu placement='static' current='1'>2</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$KERNEL</kernel>
    <initrd>$INITRD</initrd>
    <cmdline>$CMDLINE</cmdline>
  </os>
  <features><acpi/><tcg><tb-cache unit='MiB'>32</tb-cache></tcg></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$DISK'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='pty'>
      <log file='$SERIAL_LOG' append='on'/>
      <target port='0'/>
    </serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <memballoon model='virtio'/>
  </devices>
</domain>
EOF
}

cleanup() {   # leftovers of an earlier (failed) run, on both hosts
    local i
    for i in 0 1; do
        on "$i" "virsh destroy $DOM; virsh undefine $DOM; rm -f $SERIAL_LOG
                 virsh pool-refresh $POOL; virsh vol-delete --pool $POOL $DISK" >/dev/null 2>&1 || true
    done
}

clone_disk() {
    on 0 "virsh -q vol-create-as $POOL $DOM.qcow2 64M --format qcow2 \
              --backing-vol $TEMPLATE --backing-vol-format qcow2 >/dev/null"
}
define()   { domain_xml | on 0 "virsh -q define /dev/stdin >/dev/null"; }
start()    { on 0 "virsh -q start $DOM >/dev/null"; }
shutdown() { on 0 "virsh -q shutdown $DOM >/dev/null"; }
poweroff_logged() { on 0 "grep -q KILN-GUEST-POWEROFF $SERIAL_LOG"; }
# Run on the source host, as Kiln would over ssh: the source connects to the
# destination with qemu+ssh (host-to-host ssh trust is set up by hosts.sh).
# --unsafe: libvirt does not recognise the shared directory as shared storage.
migrate() {
    on 0 "virsh migrate --live --persistent --undefinesource --unsafe $DOM qemu+ssh://$DST_ADDR/system"
}
gone_from_src() { ! on 0 "virsh -q list --all --name" | grep -qx "$DOM"; }
no_reboot_on_dst() { ! on 1 "grep -q '$READY' $SERIAL_LOG 2>/dev/null"; }
destroy_dst() {
    on 1 "virsh -q destroy $DOM >/dev/null && virsh -q undefine $DOM >/dev/null &&
          virsh -q pool-refresh $POOL >/dev/null && virsh -q vol-delete --pool $POOL $DISK >/dev/null"
}

echo "smoke: $DOM on $SRC ($SRC_ADDR) -> $DST ($DST_ADDR), hosts from $JSON"
step "cleanup of earlier runs"                cleanup
step "clone disk from template ($SRC)"        clone_disk
step "define ($SRC)"                          define
step "start ($SRC)"                           start
step "boot to $READY"                         wait_banner 0 1
step "serial console: echo + read /dev/vda"   check_console 0
step "virsh shutdown (ACPI)"                  shutdown
step "... until shut off"                     wait_state 0 "shut off"
step "guest logged clean power-off"           poweroff_logged
step "start again"                            start
step "boot to $READY (2nd)"                   wait_banner 0 2
step "live migrate $SRC -> $DST"              migrate
step "running on $DST"                        wait_state 1 running
step "gone from $SRC"                         gone_from_src
step "guest did not reboot on $DST"           no_reboot_on_dst
step "serial console on $DST"                 check_console 1
step "destroy + undefine + delete volume"     destroy_dst
echo "SMOKE OK ($(fmt "$(ms "$T0")") s)"
