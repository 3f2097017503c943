# shellcheck shell=bash disable=SC2034  # (variables are used by the sourcing scripts)
# lib.sh - helpers shared by smoke.sh and faults.sh (sourced, not run).
# They talk to the hosts only the way a client such as Kiln would: hosts.json,
# ssh with the client key and pinned host keys, and virsh on the hosts.

WORK=$(realpath -m "${KILN_KVM_WORK:-/tmp/kiln-kvm}")
JSON=$WORK/hosts.json
HOSTS_SH=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/hosts.sh
[ -f "$JSON" ] || { echo "$0: $JSON not found; run hosts.sh setup first" >&2; exit 1; }
command -v jq >/dev/null || { echo "$0: jq is required" >&2; exit 1; }
[ "$(jq '.hosts | length' "$JSON")" -ge 2 ] || { echo "$0: needs at least 2 hosts" >&2; exit 1; }

j() { jq -r "$1" "$JSON"; }
KNOWN=$(j .knownHostsPath)
POOL=$(j .poolName)
STORAGE=$(j .storagePath)
KERNEL=$(j .kernel)
INITRD=$(j .initrd)
TEMPLATE=$(j .templateImage)
READY=$(j .guestReadyMarker)
# Host 0 and host 1 of hosts.json (host1, host2).
NAME=("$(j '.hosts[0].name')" "$(j '.hosts[1].name')")
ADDR=("$(j '.hosts[0].address')" "$(j '.hosts[1].address')")

# Serial log path as seen inside a host (each host has its own /var/log/libvirt;
# from the root namespace it is $WORK/hosts/NAME/log/qemu/...).
serial_log() { echo "/var/log/libvirt/qemu/$1-serial.log"; }

# on I CMD...: run a shell command on host I over ssh (StrictHostKeyChecking=yes).
# Extra ssh options may come first (e.g. on 0 -tt "virsh console x").
on() {
    local i=$1; shift
    ssh -i "$(j ".hosts[$i].privateKeyPath")" -p "$(j ".hosts[$i].port")" \
        -o IdentitiesOnly=yes -o UserKnownHostsFile="$KNOWN" -o StrictHostKeyChecking=yes \
        -o BatchMode=yes -o ConnectTimeout=5 -o LogLevel=ERROR \
        "$(j ".hosts[$i].username")@$(j ".hosts[$i].address")" "$@"
}

T0=$(date +%s%N)
ms()  { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
fmt() { printf '%d.%02d' $(($1 / 1000)) $(($1 % 1000 / 10)); }
# step LABEL CMD...: run CMD, print its duration; on failure call on_fail (to be
# defined by the script) and exit 1.
step() {
    local label=$1 s; shift
    s=$(date +%s%N)
    if "$@"; then
        printf '[%7ss] %-46s %6ss\n' "$(fmt "$(ms "$T0")")" "$label" "$(fmt "$(ms "$s")")"
    else
        printf '[%7ss] %-46s FAILED\n' "$(fmt "$(ms "$T0")")" "$label"
        on_fail || true
        exit 1
    fi
}

# wait_banner I DOM COUNT: wait (on the host) until DOM's serial log holds COUNT banners.
wait_banner() {
    local log; log=$(serial_log "$2")
    on "$1" "for i in \$(seq 600); do
                [ \"\$(grep -c '$READY' $log 2>/dev/null)\" -ge $3 ] && exit 0; sleep 0.1
              done; exit 1"
}

# wait_state I DOM STATE: wait until `virsh domstate DOM` on host I prints STATE.
wait_state() {
    on "$1" "for i in \$(seq 300); do
                [ \"\$(virsh domstate $2 2>/dev/null)\" = '$3' ] && exit 0; sleep 0.1
              done; echo \"state: \$(virsh domstate --reason $2)\"; exit 1"
}

# console I DOM LINE...: type LINEs on DOM's serial console through
# `ssh -tt ... virsh console` (virsh console insists on a tty), then Ctrl-] to
# detach; prints what came back with \r removed. The first \r gets a prompt.
console() {
    local i=$1 dom=$2; shift 2
    {
        sleep 1; printf '\r'; sleep 0.5
        local line; for line in "$@"; do printf '%s\r' "$line"; sleep 0.7; done
        sleep 0.5; printf '\035'
    } | on "$i" -tt "virsh console --force $dom" 2>&1 | tr -d '\r'
}

# domain_xml DOM [DISK]: the minimal domain Kiln's tests can use.
domain_xml() {
    local dom=$1 disk=${2:-}
    # type='qemu' = TCG. libvirt also advertises 'kvm' here, but it does not work.
    cat <<EOF
<domain type='qemu'>
  <name>$dom</name>
  <memory unit='MiB'>256</memory>
  <currentMemory unit='MiB'>128</currentMemory>
  <vcpu placement='static' current='1'>2</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$KERNEL</kernel>
    <initrd>$INITRD</initrd>
    <cmdline>$(j .kernelCmdline) hostname=$dom</cmdline>
  </os>
  <features><acpi/><tcg><tb-cache unit='MiB'>32</tb-cache></tcg></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
EOF
    [ -n "$disk" ] && cat <<EOF
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$disk'/>
      <target dev='vda' bus='virtio'/>
    </disk>
EOF
    cat <<EOF
    <serial type='pty'>
      <log file='$(serial_log "$dom")' append='on'/>
      <target port='0'/>
    </serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <memballoon model='virtio'/>
  </devices>
</domain>
EOF
}

# forget DOM [VOLUME]: remove DOM (and a volume of the kiln pool) from both hosts.
forget() {
    local i
    for i in 0 1; do
        on "$i" "virsh destroy $1; virsh undefine $1; rm -f $(serial_log "$1")
                 ${2:+virsh pool-refresh $POOL; virsh vol-delete --pool $POOL $2}" >/dev/null 2>&1 || true
    done
}

# quiet CMD...: run CMD silently; show its output only if it fails.
quiet() { local out; out=$("$@" 2>&1) || { echo "$out"; return 1; }; }
