#!/usr/bin/env bash
# hosts.sh - real libvirt/QEMU hypervisor "hosts" for Kiln's CI, all on this machine.
#
# Each host hostK is a network namespace (10.99.0.(10+K) behind the bridge
# kilnbr0, whose root-namespace side is 10.99.0.1) running its own virtlogd,
# libvirtd and OpenSSH sshd (port 22, key auth for root). Every command that
# runs "inside" a host also gets a private mount namespace in which the host's
# own directories are bind-mounted over /etc/libvirt, /run/libvirt,
# /var/lib/libvirt, /var/log/libvirt, /var/lib/kiln, /var/tmp, /root, /root/.ssh
# and /etc/hosts (PRIVATE_MOUNTS), and a UTS namespace whose hostname is the
# host's name (/tmp stays the machine's: tests hand hosts files made there).
# One directory, the libvirt dir pool "kiln", is at the same path on every host
# (shared storage), so live migration works between any two hosts.
#
# Guests are a Debian cloud kernel plus a busybox initramfs (see guest/). There
# is no usable KVM here, so domains MUST be <domain type='qemu'> (TCG).
#
# Usage: hosts.sh COMMAND ...
#   setup [N]              create/repair host1..hostN (default 2); writes $WORK/hosts.json
#   teardown               stop everything, remove hosts, bridge, storage; keeps $WORK/cache
#   status                 one line per host; exit 1 unless every host answers
#   stop-host NAME [--keep-link]
#                          simulate a host failure (power loss): cut its link, then SIGKILL
#                          every process in it (qemu, libvirtd, virtlogd, sshd, sessions)
#                          and drop its runtime state (/run/libvirt), as a reboot would.
#                          --keep-link leaves the link up, so connections are refused
#                          at once instead of timing out.
#   start-host NAME        bring a stopped host back (link up, daemons started)
#   cut-link NAME          take the host's network link down and leave every process in it
#                          running (a pulled cable or a dead switch port, not a power loss)
#   restore-link NAME      bring a cut link back up
#   rekey-host NAME        give the host's sshd a fresh host key and restart it
#   kill-qemu NAME DOMAIN  SIGKILL the qemu process of DOMAIN on host NAME (crash)
#   exec NAME CMD...       run CMD inside host NAME's namespaces (e.g. virsh list)
#   ssh NAME [CMD...]      ssh to host NAME as root with the client key
#
# Environment: KILN_KVM_WORK (default /tmp/kiln-kvm) holds all state. For a
# second, independent set of hosts also set KILN_KVM_NET, KILN_KVM_BRIDGE and
# KILN_KVM_NS_PREFIX (see below). setup records the three in $WORK/set.env, and
# every other command refuses to run on that WORK with other values.
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
HERE=$(dirname "$SELF")

# Every path below is used from several mount namespaces, so it must be absolute.
WORK=$(realpath -m "${KILN_KVM_WORK:-/tmp/kiln-kvm}")
export KILN_KVM_WORK=$WORK
CACHE=$WORK/cache                # survives teardown: guest kernel, initramfs
STORAGE=$WORK/storage            # shared storage = target of the "kiln" pool on every host
BOOT_DIR=$STORAGE/boot           # guest kernel + initramfs, same path on every host
TEMPLATE=$STORAGE/kiln-template.qcow2
HOSTS_DIR=$WORK/hosts            # per-host state, see write_host_config
SSH_DIR=$WORK/ssh
CLIENT_KEY=$SSH_DIR/id_ed25519   # the tests' client key, authorized on every host
KNOWN_HOSTS=$SSH_DIR/known_hosts # every host's current host key
ETC_HOSTS=$WORK/etc-hosts        # bind-mounted over /etc/hosts inside the hosts
HOSTS_JSON=$WORK/hosts.json
SET_ENV=$WORK/set.env            # the subnet, bridge and netns prefix setup made the set with

POOL=kiln
# Defaults for the one instance CI uses. A second, independent instance on the
# same machine (e.g. to try teardown without disturbing hosts in use) needs its
# own WORK, subnet, bridge and netns prefix, e.g.
#   KILN_KVM_WORK=/tmp/kk2 KILN_KVM_NET=10.98.0 KILN_KVM_BRIDGE=kilnbr1 KILN_KVM_NS_PREFIX=b-
BRIDGE=${KILN_KVM_BRIDGE:-kilnbr0}
NET=${KILN_KVM_NET:-10.99.0}
NS_PREFIX=${KILN_KVM_NS_PREFIX:-}
MAX_HOSTS=200
# Guest drivers; their dependencies are added and ordered automatically.
GUEST_MODULES=(virtio_pci virtio_blk virtio_net virtio_balloon virtio_console virtio_scsi sd_mod button evdev)
PACKAGES=(libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils openssh-server sshfs
          busybox-static iproute2 pciutils jq
          genisoimage isolinux syslinux syslinux-common mtools dosfstools    # these six: installer-iso.sh
          ovmf)   # UEFI firmware for <os firmware='efi'> domains (kvm-uefi-move.real)
BUSYBOX=/bin/busybox             # from busybox-static: must be static, it runs inside the guest

SSH_OPTS=(-i "$CLIENT_KEY" -o IdentitiesOnly=yes -o UserKnownHostsFile="$KNOWN_HOSTS"
          -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=5 -o LogLevel=ERROR)

# ---------------------------------------------------------------- helpers

T0=$(date +%s%N)
elapsed() { local d=$(( $(date +%s%N) - T0 )); printf '%d.%02d' $((d / 1000000000)) $((d / 10000000 % 100)); }
say() { printf '[%6ss] %s\n' "$(elapsed)" "$*" >&2; }
die() { echo "hosts.sh: $*" >&2; exit 1; }

# hostK -> K (validated)
host_index() {
    [[ $1 =~ ^host([1-9][0-9]*)$ ]] || die "bad host name '$1' (expected host1, host2, ...)"
    local k=${BASH_REMATCH[1]}
    ((k <= MAX_HOSTS)) || die "at most $MAX_HOSTS hosts"
    echo "$k"
}
host_ip()  { echo "$NET.$((10 + $(host_index "$1")))"; }
host_dir() { host_index "$1" >/dev/null; echo "$HOSTS_DIR/$1"; }
netns_of() { echo "$NS_PREFIX$1"; }   # host hostK lives in netns ${NS_PREFIX}hostK
veth_of()  {                          # root-namespace end of the host's veth pair
    local v="kiln-$NS_PREFIX$1"
    ((${#v} <= 15)) || die "interface name $v too long (shorten KILN_KVM_NS_PREFIX)"
    echo "$v"
}

# A set is one WORK with one subnet, bridge and netns prefix. A command given the set's WORK but
# not the rest (KILN_KVM_WORK alone, say) would act on the netns, veths and bridge of another set's
# names (cut-link host1 on the default set's host1): refused, naming the set's own.
check_set_env() {
    local want have="NET=$NET BRIDGE=$BRIDGE NS_PREFIX=$NS_PREFIX"
    [ -f "$SET_ENV" ] || return 0
    want=$(<"$SET_ENV")
    [ "$want" = "$have" ] ||
        die "$WORK is the set made with $want, not $have: export its KILN_KVM_NET, KILN_KVM_BRIDGE and KILN_KVM_NS_PREFIX too"
}

require_host() {
    [ -d "$(host_dir "$1")" ] || die "no such host '$1' (run setup first)"
}

# Hosts that exist in any form: a state dir, a netns or a leftover veth.
known_hosts_list() {
    {
        [ -d "$HOSTS_DIR" ] && ls "$HOSTS_DIR"
        ip netns list 2>/dev/null | awk '{print $1}' | while read -r ns; do
            [ -n "$NS_PREFIX" ] || { echo "$ns"; continue; }
            [[ $ns == "$NS_PREFIX"* ]] && echo "${ns#"$NS_PREFIX"}"
        done
        ip -o link show 2>/dev/null | awk -F': ' '{sub(/@.*/, "", $2); print $2}' |
            while read -r v; do [[ $v == "kiln-$NS_PREFIX"* ]] && echo "${v#"kiln-$NS_PREFIX"}"; done
    } | grep -E '^host[1-9][0-9]*$' | sort -uV || true
}

# True if PIDFILE names a live (non-zombie) process whose name is COMM, and, given
# NETNS (a netns file), in that network namespace. Checking the name guards against
# stale pid files whose pid was reused; the netns, against its reuse by the same
# daemon of another host: all hosts share one pid space, so after a reboot a
# host's old sshd.pid may name another host's (or set's) sshd.
proc_alive() {
    local pidfile=$1 comm=$2 ns=${3:-} pid
    [ -s "$pidfile" ] || return 1
    pid=$(<"$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ] || return 1
    [ -z "$ns" ] || [ "/proc/$pid/ns/net" -ef "$ns" ] || return 1
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]
}
# proc_alive for a daemon of host NAME, from the root namespace: NAME PIDFILE COMM.
host_proc_alive() { proc_alive "$2" "$3" "/run/netns/$(netns_of "$1")"; }

# wait_until SECONDS CMD...: retry CMD every 0.2 s until it succeeds.
wait_until() {
    local limit=$1 start=$SECONDS; shift
    until "$@" >/dev/null 2>&1; do
        ((SECONDS - start < limit)) || return 1
        sleep 0.2
    done
}

# Run a command inside a host. `ip netns exec` enters the netns and also makes a
# fresh private mount namespace (and remounts /sys) on every call, so the host's
# bind mounts are re-applied each time by the __in hook below; `unshare --uts`
# gives the command the host's hostname. Daemons started this way keep these
# namespaces, and so does everything sshd starts for a login.
host_exec() {
    local name=$1; shift
    ip netns exec "$(netns_of "$name")" unshare --uts -- bash "$SELF" __in "$name" "$@"
}

inside_host() {   # (runs in the fresh namespaces made by host_exec)
    local name=$1 h; shift
    h=$(host_dir "$name")
    mount --bind "$h/etc" /etc/libvirt
    mount --bind "$h/run" /run/libvirt
    mount --bind "$h/lib" /var/lib/libvirt
    mount --bind "$h/log" /var/log/libvirt
    # Kiln's own directory on a host (the local backup store /var/lib/kiln/backups, its staging
    # and restore work): each host's own, as on real hosts. Shared, one test's restore work
    # showed up in another's listing of the store, on another host set in another CI shard.
    mkdir -p "$h/kiln" /var/lib/kiln
    mount --bind "$h/kiln" /var/lib/kiln
    # The host's TMPDIR (Kiln's scratch copies of disks, kiln-export.*, and migration XML,
    # kiln-migrate.*): each host's own too. Shared, a test that checks a host for scratch copies
    # left over, or clears them, saw or removed those of hosts of other sets in other CI shards.
    mkdir -p "$h/vartmp"; chmod 1777 "$h/vartmp"
    mount --bind "$h/vartmp" /var/tmp
    # A clean home for root: the machine's own dotfiles (a pyenv init that takes a lock on
    # every shell start, say) must not slow down or stall the hosts' ssh sessions.
    mkdir -p "$h/home/.ssh"
    mount --bind "$h/home" /root
    mount --bind "$h/dotssh" /root/.ssh
    mount --bind "$ETC_HOSTS" /etc/hosts
    echo "$name" >/proc/sys/kernel/hostname
    exec "$@"
}

host_ssh() {
    local name=$1; shift
    ssh "${SSH_OPTS[@]}" "root@$(host_ip "$name")" "$@"
}

# --------------------------------------------------------------- packages

install_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    say "installing packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Package scripts must not start system-wide daemons (a root-namespace sshd on
    # port 22, libvirtd): on machines without a policy-rc.d, add a deny-all one
    # for the duration of the install.
    local rcd=/usr/sbin/policy-rc.d added=0 rc=0
    if [ ! -e "$rcd" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$rcd"; chmod 755 "$rcd"; added=1
    fi
    { apt-get update -q -o DPkg::Lock::Timeout=300 &&
      apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}"; } \
        >"$WORK/apt.log" 2>&1 || rc=$?
    ((added)) && rm -f "$rcd"
    ((rc == 0)) || { tail -20 "$WORK/apt.log" >&2; die "apt-get failed (log: $WORK/apt.log)"; }
}

# ------------------------------------------------------------------ guest

# Exact package behind the linux-image-cloud-amd64 metapackage, e.g.
# linux-image-6.1.0-56-cloud-amd64.
kernel_package() {
    local pkg
    for attempt in 1 2; do
        pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
              awk '$1 == "Depends:" && $2 ~ /^linux-image-/ {print $2; exit}')
        [ -n "$pkg" ] && { echo "$pkg"; return; }
        # No package lists yet (fresh machine): fetch them once and retry.
        [ "$attempt" = 1 ] && apt-get update -q -o DPkg::Lock::Timeout=300 >/dev/null 2>&1
    done
    die "cannot resolve linux-image-cloud-amd64 with apt-cache"
}

# Kernel + the few modules the guest needs, extracted from the Debian .deb once
# into $CACHE/kernel. Delete that directory to pick up a newer kernel.
fetch_kernel() {
    local kdir=$CACHE/kernel
    [ -f "$kdir/complete" ] && return 0
    local pkg kver moddir
    pkg=$(kernel_package)
    say "fetching guest kernel $pkg"
    rm -rf "$kdir"; mkdir -p "$kdir/dl" "$kdir/modules"
    # apt-get download warns that it runs unsandboxed as root; that is harmless.
    (cd "$kdir/dl" && apt-get download -q "$pkg") >"$kdir/download.log" 2>&1 ||
        { cat "$kdir/download.log" >&2; die "apt-get download $pkg failed"; }
    dpkg-deb -x "$kdir"/dl/*.deb "$kdir/x"
    kver=$(ls "$kdir/x/lib/modules")
    cp "$kdir/x/boot/vmlinuz-$kver" "$kdir/vmlinuz"
    # The .deb ships no modules.dep (its postinst runs depmod): make one with
    # busybox, then take the wanted modules plus their dependencies, in load order.
    moddir=$kdir/x/lib/modules/$kver
    "$BUSYBOX" depmod -b "$kdir/x" "$kver"
    local order=() m line f deps i
    add_mod() { local x; for x in "${order[@]}"; do [ "$x" = "$1" ] && return; done; order+=("$1"); }
    for m in "${GUEST_MODULES[@]}"; do
        line=$(grep -E "/${m}\.ko(\.(xz|zst|gz))?:" "$moddir/modules.dep" || true)
        if [ -z "$line" ]; then
            grep -qE "/${m}\.ko" "$moddir/modules.builtin" && continue   # built in: nothing to load
            die "kernel module $m not found in $pkg"
        fi
        f=${line%%:*}
        read -ra deps <<<"${line#*:}"
        # modules.dep lists all dependencies, the deepest last: load them reversed.
        for ((i = ${#deps[@]} - 1; i >= 0; i--)); do add_mod "${deps[i]}"; done
        add_mod "$f"
    done
    : >"$kdir/modules/load-order"
    for f in "${order[@]}"; do
        m=$(basename "$f"); m=${m%.xz}; m=${m%.zst}; m=${m%.gz}
        case $f in   # busybox insmod wants plain .ko files
            *.xz)  xz -dc "$moddir/$f" >"$kdir/modules/$m" ;;
            *.zst) zstd -qdc "$moddir/$f" >"$kdir/modules/$m" ;;
            *.gz)  gzip -dc "$moddir/$f" >"$kdir/modules/$m" ;;
            *)     cp "$moddir/$f" "$kdir/modules/$m" ;;
        esac
        echo "$m" >>"$kdir/modules/load-order"
    done
    echo "$pkg" >"$kdir/package"
    echo "$kver" >"$kdir/version"
    rm -rf "$kdir/dl" "$kdir/x"
    touch "$kdir/complete"
}

# Busybox initramfs, rebuilt only when its inputs change (stamp = their hash).
build_initrd() {
    local kdir=$CACHE/kernel want root
    want=$(cat "$HERE"/guest/{init,power-button,profile} "$kdir/modules/load-order" "$kdir/version" \
               "$BUSYBOX" | sha256sum | cut -c1-16)
    if [ -s "$CACHE/initrd.img" ] && [ "$(cat "$CACHE/initrd.stamp" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    say "building guest initramfs"
    root=$(mktemp -d "$CACHE/initrd-root.XXXXXX")
    mkdir -p "$root"/{bin,dev,proc,sys,tmp,run,root,mnt,etc/acpi/PWRF,lib/modules}
    chmod 1777 "$root/tmp"
    cp "$BUSYBOX" "$root/bin/busybox"
    install -m 755 "$HERE/guest/init" "$root/init"
    install -m 755 "$HERE/guest/power-button" "$root/etc/acpi/PWRF/00000080"
    install -m 644 "$HERE/guest/profile" "$root/etc/profile"
    cp "$kdir"/modules/* "$root/lib/modules/"
    mknod -m 600 "$root/dev/console" c 5 1
    # The cpio package may be missing; busybox has a cpio applet that writes newc.
    (cd "$root" && find . | LC_ALL=C sort | "$BUSYBOX" cpio -o -H newc 2>/dev/null) |
        gzip -9 >"$CACHE/initrd.img.tmp"
    mv -f "$CACHE/initrd.img.tmp" "$CACHE/initrd.img"
    echo "$want" >"$CACHE/initrd.stamp"
    rm -rf "$root"
}

# Copy SRC to DST unless identical; atomic, so a qemu starting meanwhile never
# reads a half-written kernel.
install_if_changed() {
    cmp -s "$1" "$2" && return 0
    cp "$1" "$2.tmp.$$" && mv -f "$2.tmp.$$" "$2"
}

prepare_storage() {
    mkdir -p "$STORAGE" "$BOOT_DIR"
    install_if_changed "$CACHE/kernel/vmlinuz" "$BOOT_DIR/vmlinuz"
    install_if_changed "$CACHE/initrd.img" "$BOOT_DIR/initrd.img"
    # Template for linked clones: 64 MiB, empty but for a marker at offset 0, so a
    # test can check from inside a guest that a clone really reads its backing file:
    #   head -c 16 /dev/vda  ->  KILN-TEMPLATE-V1
    if [ ! -f "$TEMPLATE" ]; then
        local raw=$CACHE/template.raw
        rm -f "$raw"; truncate -s 64M "$raw"
        printf 'KILN-TEMPLATE-V1\n' | dd of="$raw" conv=notrunc status=none
        qemu-img convert -q -f raw -O qcow2 "$raw" "$TEMPLATE.tmp"
        mv -f "$TEMPLATE.tmp" "$TEMPLATE"
        rm -f "$raw"
    fi
}

# ---------------------------------------------------------------- ssh keys

ensure_client_key() {
    mkdir -p "$SSH_DIR"; chmod 700 "$SSH_DIR"
    [ -f "$CLIENT_KEY" ] || ssh-keygen -q -t ed25519 -N '' -C kiln-ci-client -f "$CLIENT_KEY"
    cp "$CLIENT_KEY.pub" "$SSH_DIR/authorized_keys"
}

# known_hosts with every host's current key, used by the root namespace (smoke
# test) and by the hosts themselves (host-to-host ssh for migration).
write_known_hosts() {
    local tmp=$KNOWN_HOSTS.tmp name key
    : >"$tmp"
    for name in $(known_hosts_list); do
        key=$HOSTS_DIR/$name/sshd/ssh_host_ed25519_key.pub
        [ -f "$key" ] && echo "$name,$(host_ip "$name") $(cut -d' ' -f1,2 "$key")" >>"$tmp"
    done
    mv -f "$tmp" "$KNOWN_HOSTS"
}

# /etc/hosts as seen inside the hosts. Rewritten in place (not replaced), because
# running hosts have this very inode bind-mounted.
write_etc_hosts() {
    local name
    {
        echo "127.0.0.1 localhost"
        echo "::1 localhost ip6-localhost ip6-loopback"
        echo "$NET.1 kiln-ci"
        for name in "$@"; do echo "$(host_ip "$name") $name"; done
    } >"$ETC_HOSTS"
}

# ---------------------------------------------------------------- network

ensure_bridge() {
    ip link show "$BRIDGE" >/dev/null 2>&1 || ip link add "$BRIDGE" type bridge
    ip addr replace "$NET.1/24" dev "$BRIDGE"
    ip link set "$BRIDGE" up
}

ensure_netns() {
    local name=$1 ip veth ns
    ip=$(host_ip "$name"); veth=$(veth_of "$name"); ns=$(netns_of "$name")
    [ -e "/run/netns/$ns" ] || ip netns add "$ns"
    if ! ip link show "$veth" >/dev/null 2>&1; then
        ip -n "$ns" link del eth0 2>/dev/null || true
        ip link add "$veth" type veth peer name eth0 netns "$ns"
    fi
    ip link set "$veth" master "$BRIDGE" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr replace "$ip/24" dev eth0
    ip -n "$ns" link set eth0 up
}

# ------------------------------------------------------------------ hosts

# Per-host state, $HOSTS_DIR/NAME:
#   etc/ run/ lib/ log/  -> /etc/libvirt /run/libvirt /var/lib/libvirt /var/log/libvirt
#   kiln/                -> /var/lib/kiln (Kiln's local backup store, this host's own)
#   vartmp/              -> /var/tmp (the host's TMPDIR: Kiln's scratch copies)
#   dotssh/              -> /root/.ssh (client config for host-to-host ssh)
#   sshd/                sshd_config and host key
#   pids/                libvirtd.pid virtlogd.pid sshd.pid (outside the bind mounts,
#                        so the root namespace can read them)
#   host_uuid            libvirt host UUID, kept across setups
write_host_config() {
    local name=$1 h ip
    h=$(host_dir "$name"); ip=$(host_ip "$name")
    mkdir -p "$h"/{etc,run,lib,log/qemu,dotssh,sshd,pids,kiln,vartmp}
    chmod 700 "$h/dotssh"
    [ -s "$h/host_uuid" ] || cat /proc/sys/kernel/random/uuid >"$h/host_uuid"

    # Fresh configs instead of copies of /etc/libvirt: nothing is defined (no
    # default network, no nwfilters) except what setup adds.
    cat >"$h/etc/libvirtd.conf" <<EOF
# Written by test/kvm-hosts/hosts.sh for $name.
# Migration refuses to go to a host with the same UUID, and all hosts share one
# machine, so each gets its own.
host_uuid = "$(cat "$h/host_uuid")"
# No polkit daemon here; root talks to the socket directly.
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
EOF
    cat >"$h/etc/qemu.conf" <<EOF
# Written by test/kvm-hosts/hosts.sh for $name.
# Run qemu as root: with the default libvirt-qemu user, libvirt sees /dev/kvm
# as unusable and re-probes QEMU on every define (~40 s each). As a side effect
# "virsh dominfo" reports "tainted: running with undesirable elevated privileges".
user = "root"
group = "root"
# Shared storage is used by several hosts at once: never chown or xattr-tag it.
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
# All hosts would otherwise advertise the machine's hostname (which resolves to
# 127.0.0.1) as the incoming-migration address.
migration_host = "$ip"
vnc_listen = "0.0.0.0"
EOF
    cat >"$h/etc/virtlogd.conf" <<EOF
log_outputs = "3:file:/var/log/libvirt/virtlogd.log"
EOF

    [ -f "$h/sshd/ssh_host_ed25519_key" ] ||
        ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$h/sshd/ssh_host_ed25519_key"
    # StrictModes off: the key files live under /tmp, whose mode sshd would reject.
    cat >"$h/sshd/sshd_config.new" <<EOF
# Written by test/kvm-hosts/hosts.sh for $name (runs inside netns $(netns_of "$name")).
Port 22
ListenAddress 0.0.0.0
HostKey $h/sshd/ssh_host_ed25519_key
PidFile $h/pids/sshd.pid
AuthorizedKeysFile $SSH_DIR/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
PrintLastLog no
# Kiln may open many channels on one connection, and tests connect in bursts.
MaxSessions 64
MaxStartups 64:30:128
# Kiln's metadata relay: remote forwards bound on a guest network's gateway address, not loopback.
GatewayPorts clientspecified
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
    # A changed config reaches a running sshd by SIGHUP (it re-reads it; open sessions stay).
    if cmp -s "$h/sshd/sshd_config.new" "$h/sshd/sshd_config"; then
        rm -f "$h/sshd/sshd_config.new"
    else
        mv "$h/sshd/sshd_config.new" "$h/sshd/sshd_config"
        if host_proc_alive "$name" "$h/pids/sshd.pid" sshd; then kill -HUP "$(<"$h/pids/sshd.pid")"; fi
    fi
    # Host-to-host ssh (virsh migrate ... qemu+ssh://hostB/system run on hostA,
    # or libvirtd itself with --p2p) uses the same client key and known_hosts.
    cat >"$h/dotssh/config" <<EOF
Host *
    User root
    IdentityFile $CLIENT_KEY
    IdentitiesOnly yes
    UserKnownHostsFile $KNOWN_HOSTS
    StrictHostKeyChecking yes
    BatchMode yes
    ConnectTimeout 10
EOF
    chmod 600 "$h/dotssh/config"
}

# Start whichever of virtlogd, libvirtd, sshd is not running (inside the host).
inside_start_daemons() {
    local name=$1 h
    h=$(host_dir "$name")
    mkdir -p /run/sshd   # sshd's privilege-separation dir (root namespace's /run)
    # libvirtd logs through virtlogd, so virtlogd goes first. Pid files are given
    # explicitly: the defaults (/run/*.pid) would be shared by all hosts.
    local here=/proc/$$/ns/net   # this host's netns
    proc_alive "$h/pids/virtlogd.pid" virtlogd "$here" || virtlogd -d -p "$h/pids/virtlogd.pid"
    proc_alive "$h/pids/libvirtd.pid" libvirtd "$here" || libvirtd -d -p "$h/pids/libvirtd.pid"
    proc_alive "$h/pids/sshd.pid" sshd "$here" || /usr/sbin/sshd -f "$h/sshd/sshd_config" -E "$h/log/sshd.log"
}

start_daemons() {
    host_exec "$1" bash "$SELF" __start-daemons "$1"
}

# Mount points inside_host binds over the machine's (keep in step with it).
PRIVATE_MOUNTS=(/etc/libvirt /run/libvirt /var/lib/libvirt /var/log/libvirt /var/lib/kiln /var/tmp /root /root/.ssh /etc/hosts)

# True if process PID has every one of PRIVATE_MOUNTS as a mount point.
sees_private_mounts() {
    local points m
    points=$(awk '{print $5}' "/proc/$1/mountinfo" 2>/dev/null) || return 1
    for m in "${PRIVATE_MOUNTS[@]}"; do grep -qxF -- "$m" <<<"$points" || return 1; done
}
proc_gone() { ! host_proc_alive "$@"; }

# A daemon keeps the mounts of the hosts.sh that started it. sshd (every Kiln session) or libvirtd
# (backup jobs write into /var/lib/kiln) started before a directory was made the host's own would
# go on using the machine's, while `hosts.sh exec` (the tests' view) sees the host's: stop such a
# one, so that start_daemons starts it again with them. Sessions already open and running domains
# stay; virtlogd (it holds running domains' logs) needs none of the newer ones.
restart_stale_daemons() {
    local name=$1 h d pid
    h=$(host_dir "$name")
    for d in sshd libvirtd; do
        host_proc_alive "$name" "$h/pids/$d.pid" "$d" || continue
        pid=$(<"$h/pids/$d.pid")
        sees_private_mounts "$pid" && continue
        say "$name: restarting $d (started without all of the host's own directories)"
        kill -TERM "$pid" 2>/dev/null || true
        wait_until 30 proc_gone "$name" "$h/pids/$d.pid" "$d" || kill -KILL "$pid" 2>/dev/null || true
    done
}

# libvirtd's first answer can take ~10 s on a fresh machine: it probes QEMU's
# capabilities once (cached in the shared /var/cache/libvirt for all hosts).
wait_ready() {
    local name=$1
    wait_until 120 host_exec "$name" virsh -c qemu:///system -q version ||
        die "$name: libvirtd does not answer (log: $(host_dir "$name")/log/libvirtd.log)"
    wait_until 30 host_ssh "$name" true ||
        die "$name: sshd does not answer (log: $(host_dir "$name")/log/sshd.log)"
}

ensure_pool() {
    # shellcheck disable=SC2016
    host_exec "$1" bash -ec '
        pool=$1 dir=$2
        virsh -q pool-info "$pool" >/dev/null 2>&1 ||
            virsh -q pool-define-as "$pool" dir --target "$dir" >/dev/null
        virsh -q pool-autostart "$pool" >/dev/null
        virsh -q pool-info "$pool" | grep -Eq "^State:[[:space:]]+running" ||
            virsh -q pool-start "$pool" >/dev/null
        virsh -q pool-refresh "$pool" >/dev/null' _ "$POOL" "$STORAGE"
}

# SIGKILL (or SIGTERM first, with GRACE seconds) every process in the netns.
kill_host_processes() {
    local name=$1 grace=${2:-0} pids start
    [ -e "/run/netns/$(netns_of "$name")" ] || return 0
    pids=$(netns_pids "$name")
    [ -n "$pids" ] || return 0
    # shellcheck disable=SC2086  # $pids is a list
    if ((grace > 0)); then
        kill -TERM $pids 2>/dev/null || true
        start=$SECONDS
        while ! netns_empty "$name" && ((SECONDS - start < grace)); do sleep 0.2; done
        pids=$(netns_pids "$name")
    fi
    # shellcheck disable=SC2086
    if [ -n "$pids" ]; then kill -KILL $pids 2>/dev/null || true; fi
    wait_until 10 netns_empty "$name" || say "warning: processes left in $name"
}
netns_pids()  { ip netns pids "$(netns_of "$1")" 2>/dev/null || true; }
netns_empty() { [ -z "$(netns_pids "$1")" ]; }

destroy_host() {
    local name=$1
    kill_host_processes "$name" 3
    [ -e "/run/netns/$(netns_of "$name")" ] && ip netns del "$(netns_of "$name")"
    ip link del "$(veth_of "$name")" 2>/dev/null || true
    rm -rf "${HOSTS_DIR:?}/$name"
}

host_fingerprint() { ssh-keygen -lf "$(host_dir "$1")/sshd/ssh_host_ed25519_key.pub" | awk '{print $2}'; }

write_hosts_json() {
    local name h tmp=$HOSTS_JSON.tmp
    for name in "$@"; do
        h=$(host_dir "$name")
        jq -n --arg name "$name" --arg address "$(host_ip "$name")" --arg key "$CLIENT_KEY" \
              --arg hostkey "$h/sshd/ssh_host_ed25519_key.pub" --arg fp "$(host_fingerprint "$name")" \
              --arg uuid "$(cat "$h/host_uuid")" --arg dir "$h" --arg ns "$(netns_of "$name")" \
            '{name: $name, address: $address, port: 22, username: "root",
              privateKeyPath: $key, sshHostKeyPath: $hostkey, sshHostKeyFingerprint: $fp,
              hostUuid: $uuid, netns: $ns, stateDir: $dir}'
    done | jq -s --arg storage "$STORAGE" --arg pool "$POOL" --arg kernel "$BOOT_DIR/vmlinuz" \
                 --arg initrd "$BOOT_DIR/initrd.img" --arg template "$TEMPLATE" \
                 --arg known "$KNOWN_HOSTS" --arg kver "$(cat "$CACHE/kernel/version")" \
        '{hosts: ., storagePath: $storage, poolName: $pool, kernel: $kernel, initrd: $initrd,
          templateImage: $template, knownHostsPath: $known, kernelVersion: $kver,
          kernelCmdline: "console=ttyS0 quiet panic=-1", domainType: "qemu",
          guestReadyMarker: "KILN-GUEST-READY"}' >"$tmp"
    mv -f "$tmp" "$HOSTS_JSON"
}

configured_hosts() { [ -d "$HOSTS_DIR" ] && ls "$HOSTS_DIR" | grep -E '^host[1-9][0-9]*$' | sort -V || true; }

# --------------------------------------------------------------- commands

cmd_setup() {
    local n=${1:-2} name names=()
    [[ $n =~ ^[1-9][0-9]*$ ]] && ((n <= MAX_HOSTS)) || die "setup: N must be 1..$MAX_HOSTS"
    for ((i = 1; i <= n; i++)); do names+=("host$i"); done
    mkdir -p "$WORK" "$CACHE"
    echo "NET=$NET BRIDGE=$BRIDGE NS_PREFIX=$NS_PREFIX" >"$SET_ENV"
    install_packages
    # Mount points the hosts bind over must exist in the root namespace.
    mkdir -p /run/libvirt /var/lib/libvirt /var/log/libvirt /root/.ssh
    chmod 700 /root/.ssh

    # Hosts left over from an earlier, larger setup go away: state == request.
    for name in $(known_hosts_list); do
        [[ " ${names[*]} " == *" $name "* ]] || { say "removing $name"; destroy_host "$name"; }
    done

    ensure_client_key
    ensure_bridge
    for name in "${names[@]}"; do write_host_config "$name"; done
    write_etc_hosts "${names[@]}"
    write_known_hosts
    for name in "${names[@]}"; do ensure_netns "$name"; restart_stale_daemons "$name"; done

    # host1's libvirtd probes QEMU (~10 s the first time); let it do that while
    # the guest is fetched and built.
    start_daemons host1
    fetch_kernel
    build_initrd
    prepare_storage
    for name in "${names[@]}"; do
        start_daemons "$name"
        wait_ready "$name"
        ensure_pool "$name"
        say "$name up: $(host_ip "$name"):22, libvirt host UUID $(cat "$(host_dir "$name")/host_uuid")"
    done
    write_hosts_json "${names[@]}"
    say "setup done: $HOSTS_JSON"
}

cmd_teardown() {
    local name
    for name in $(known_hosts_list); do
        say "removing $name"
        destroy_host "$name"
    done
    ip link del "$BRIDGE" 2>/dev/null || true
    rm -rf "$HOSTS_DIR" "$STORAGE" "$SSH_DIR" "$ETC_HOSTS" "$HOSTS_JSON" "$SET_ENV"
    say "teardown done (kept $CACHE)"
}

cmd_status() {
    local name h ok=0 any=0 link lv sshd doms
    printf '%-8s %-12s %-5s %-9s %-9s %s\n' HOST ADDRESS LINK LIBVIRTD SSHD RUNNING-DOMAINS
    for name in $(configured_hosts); do
        any=1; h=$(host_dir "$name")
        if [ ! -e "/run/netns/$(netns_of "$name")" ]; then
            printf '%-8s %-12s %s\n' "$name" "$(host_ip "$name")" "no netns"; ok=1; continue
        fi
        link=$(ip -o link show "$(veth_of "$name")" 2>/dev/null | grep -q '[<,]UP[,>]' && echo up || echo down)
        lv=down; doms=-
        if host_proc_alive "$name" "$h/pids/libvirtd.pid" libvirtd &&
           doms=$(host_exec "$name" timeout 10 virsh -q list --name 2>/dev/null); then
            lv=ok; doms=$(echo "$doms" | grep -c . || true)
        fi
        sshd=down
        [ "$link" = up ] && host_ssh "$name" -o ConnectTimeout=3 true 2>/dev/null && sshd=ok
        [ "$lv" = ok ] && [ "$sshd" = ok ] || ok=1
        printf '%-8s %-12s %-5s %-9s %-9s %s\n' "$name" "$(host_ip "$name")" "$link" "$lv" "$sshd" "$doms"
    done
    ((any)) || { echo "no hosts (run: $0 setup)"; return 1; }
    return $ok
}

cmd_stop_host() {
    local name=${1:?usage: stop-host NAME [--keep-link]} keep=${2:-}
    require_host "$name"
    # Cut the link first so that no FIN/RST escapes: to clients the host just
    # vanishes (connect attempts fail with "no route to host", open connections
    # hang), like a powered-off machine.
    [ "$keep" = --keep-link ] || ip link set "$(veth_of "$name")" down
    kill_host_processes "$name" 0
    # Volatile state dies with the "machine"; a reboot starts from an empty /run.
    # (This also makes libvirtd autostart domains/pools again on start-host.)
    rm -rf "$(host_dir "$name")"/run/* "$(host_dir "$name")"/pids/*
    say "$name stopped ($([ "$keep" = --keep-link ] && echo "link kept up" || echo "link down"))"
}

cmd_start_host() {
    local name=${1:?usage: start-host NAME}
    require_host "$name"
    ensure_bridge
    ensure_netns "$name"
    start_daemons "$name"
    wait_ready "$name"
    ensure_pool "$name"
    say "$name started"
}

cmd_cut_link() {
    local name=${1:?usage: cut-link NAME}
    require_host "$name"
    # Only the root-namespace end goes down: the host's eth0 loses its carrier, so nothing
    # reaches the host or leaves it (other hosts included), while its qemu, libvirtd and sshd
    # keep running and its open connections hang, as behind a pulled cable.
    ip link set "$(veth_of "$name")" down
    say "$name link cut (processes left running)"
}

cmd_restore_link() {
    local name=${1:?usage: restore-link NAME}
    require_host "$name"
    ensure_bridge
    ip link set "$(veth_of "$name")" master "$BRIDGE" up
    wait_until 30 host_ssh "$name" true || die "$name: sshd does not answer after restore-link"
    say "$name link restored"
}

cmd_rekey_host() {
    local name=${1:?usage: rekey-host NAME} h old pid hosts
    require_host "$name"
    h=$(host_dir "$name")
    old=$(host_fingerprint "$name")
    rm -f "$h/sshd/ssh_host_ed25519_key" "$h/sshd/ssh_host_ed25519_key.pub"
    ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$h/sshd/ssh_host_ed25519_key"
    # The hosts (and smoke.sh) keep trusting each other; Kiln's own pinned key does not change.
    write_known_hosts
    # Restart only the listening sshd; sessions already open keep running.
    if host_proc_alive "$name" "$h/pids/sshd.pid" sshd; then
        pid=$(<"$h/pids/sshd.pid")
        kill -TERM "$pid"
        wait_until 10 bash -c "! kill -0 $pid" || true
    fi
    start_daemons "$name"
    wait_until 30 host_ssh "$name" true || die "$name: sshd does not answer after rekey"
    mapfile -t hosts < <(configured_hosts)
    write_hosts_json "${hosts[@]}"
    say "$name host key $old -> $(host_fingerprint "$name")"
}

cmd_kill_qemu() {
    local name=${1:?usage: kill-qemu NAME DOMAIN} dom=${2:?usage: kill-qemu NAME DOMAIN} h pid
    require_host "$name"
    h=$(host_dir "$name")
    # libvirt keeps the qemu pid in /run/libvirt/qemu/DOMAIN.pid (inside the host).
    pid=$(cat "$h/run/qemu/$dom.pid" 2>/dev/null || true)
    [[ $pid =~ ^[0-9]+$ ]] && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == qemu* ]] &&
        [ "/proc/$pid/ns/net" -ef "/run/netns/$(netns_of "$name")" ] ||
        die "$name: domain '$dom' has no running qemu"
    kill -KILL "$pid"
    wait_until 10 bash -c "[ ! -d /proc/$pid ] || [ \"\$(awk '{print \$3}' /proc/$pid/stat)\" = Z ]" || true
    say "$name: killed qemu pid $pid of domain $dom"
}

usage() { sed -n '/^# Usage:/,/^# Environment/p' "$SELF" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[ "$(id -u)" = 0 ] || die "must run as root"
cmd=${1:-}; shift || true
case $cmd in __in|__start-daemons) ;; *) check_set_env ;; esac
case $cmd in
    setup)            cmd_setup "$@" ;;
    teardown)         cmd_teardown ;;
    status)           cmd_status ;;
    stop-host)        cmd_stop_host "$@" ;;
    start-host)       cmd_start_host "$@" ;;
    cut-link)         cmd_cut_link "$@" ;;
    restore-link)     cmd_restore_link "$@" ;;
    rekey-host)       cmd_rekey_host "$@" ;;
    kill-qemu)        cmd_kill_qemu "$@" ;;
    exec)             [ $# -ge 2 ] || usage; require_host "$1"; host_exec "$@" ;;
    ssh)              [ $# -ge 1 ] || usage; require_host "$1"; host_ssh "$@" ;;
    __in)             inside_host "$@" ;;            # internal, see host_exec
    __start-daemons)  inside_start_daemons "$@" ;;   # internal, see start_daemons
    *)                usage ;;
esac
