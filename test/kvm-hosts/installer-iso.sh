#!/bin/bash
# Builds (cached) a tiny OS installer ISO for the KVM test guests, from Debian packages only,
# and prints its path:  test/kvm-hosts/installer-iso.sh  ->  $WORK/cache/installer/installer.iso
#
# The ISO boots with ISOLINUX (BIOS, El Torito) into the guest kernel and an installer initramfs:
# the test guest's own initramfs (busybox, the drivers) with a second cpio appended whose /init is
# guest/installer-init and which carries the system to install. The installer writes that system
# onto the VM's first disk (/dev/vda), reads it back against its SHA-256 and says so on ttyS0:
#     KILN-INSTALLER: writing the busybox system (N bytes) to /dev/vda
#     KILN-INSTALLER-DONE sha256=<hex> (remove the installation medium and reboot)
# The installed system is an MBR disk: SYSLINUX's MBR, one active FAT16 partition with SYSLINUX,
# the guest kernel and the test guest's initramfs, booted with hostname=kiln-installed
# kiln.booted=disk. Booted from the disk, SYSLINUX prints its banner on ttyS0 (the CD prints ISOLINUX's)
# and then the guest's usual KILN-GUEST-READY line, hostname=kiln-installed.
#
# The disk image is made here, at build time (mkfs.fat, mtools' mcopy and syslinux work on image
# files, without loop devices or root), so the installer itself is a dd plus a check, as image-based
# installers are. Needs: genisoimage, isolinux, syslinux, syslinux-common, mtools, dosfstools, and a
# `hosts.sh setup` run before (the guest kernel and initramfs in $WORK/cache).
set -euo pipefail

SELF=$(readlink -f "$0")
HERE=$(dirname "$SELF")
WORK=${KILN_KVM_WORK:-/tmp/kiln-kvm}
CACHE=$WORK/cache
OUT=$CACHE/installer
KERNEL=$CACHE/kernel/vmlinuz
INITRD=$CACHE/initrd.img
ISOLINUX=/usr/lib/ISOLINUX/isolinux.bin
LDLINUX=/usr/lib/syslinux/modules/bios/ldlinux.c32
MBR=/usr/lib/syslinux/mbr/mbr.bin
PART_MIB=32

die() { echo "installer-iso: $*" >&2; exit 1; }
for tool in genisoimage mkfs.fat mcopy syslinux sfdisk gzip; do
    command -v "$tool" >/dev/null || die "$tool is missing (apt-get install genisoimage isolinux syslinux syslinux-common mtools dosfstools)"
done
for f in "$KERNEL" "$INITRD" "$ISOLINUX" "$LDLINUX" "$MBR"; do [ -s "$f" ] || die "$f is missing (run hosts.sh setup; install isolinux syslinux-common)"; done

want=$(cat "$SELF" "$HERE/guest/installer-init" "$KERNEL" "$INITRD" "$ISOLINUX" "$LDLINUX" "$MBR" | sha256sum | cut -c1-16)
if [ -s "$OUT/installer.iso" ] && [ "$(cat "$OUT/stamp" 2>/dev/null)" = "$want" ]; then
    echo "$OUT/installer.iso"
    exit 0
fi

mkdir -p "$OUT"
tmp=$(mktemp -d "$OUT/build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# 1. The system to install: MBR + one active FAT16 partition from 1 MiB.
part=$tmp/part.img
mkfs.fat -F 16 -n KILNROOT -C "$part" $((PART_MIB * 1024)) >/dev/null
cat >"$tmp/syslinux.cfg" <<'EOF'
SERIAL 0 115200
DEFAULT installed
PROMPT 0
TIMEOUT 0
LABEL installed
  KERNEL /vmlinuz
  INITRD /initrd.img
  APPEND console=ttyS0 quiet panic=-1 hostname=kiln-installed kiln.booted=disk
EOF
MTOOLS_SKIP_CHECK=1 mcopy -i "$part" "$KERNEL" ::/vmlinuz
MTOOLS_SKIP_CHECK=1 mcopy -i "$part" "$INITRD" ::/initrd.img
MTOOLS_SKIP_CHECK=1 mcopy -i "$part" "$tmp/syslinux.cfg" ::/syslinux.cfg
syslinux --install "$part"
disk=$tmp/disk.img
truncate -s 1M "$disk"
cat "$part" >>"$disk"
printf 'label: dos\nstart=2048, type=6, bootable\n' | sfdisk -q --wipe never "$disk"
dd if="$MBR" of="$disk" bs=440 count=1 conv=notrunc status=none
size=$(stat -c %s "$disk")
sum=$(sha256sum "$disk" | cut -d' ' -f1)

# 2. The installer initramfs: the guest's, plus a cpio with the installer's /init and the payload
#    (the kernel unpacks concatenated archives in order; later files replace earlier ones).
extra=$tmp/extra
mkdir -p "$extra/install"
install -m 755 "$HERE/guest/installer-init" "$extra/init"
gzip -1 -c "$disk" >"$extra/install/disk.img.gz"
printf '%s %s\n' "$size" "$sum" >"$extra/install/disk.sha256"
(cd "$extra" && find . | LC_ALL=C sort | /bin/busybox cpio -o -H newc 2>/dev/null) | gzip -1 >"$tmp/extra.cpio.gz"

# 3. The ISO: ISOLINUX straight into the installer.
iso=$tmp/iso
mkdir -p "$iso/isolinux"
cp "$ISOLINUX" "$LDLINUX" "$iso/isolinux/"
cat >"$iso/isolinux/isolinux.cfg" <<'EOF'
SERIAL 0 115200
DEFAULT install
PROMPT 0
TIMEOUT 0
LABEL install
  KERNEL /vmlinuz
  INITRD /install.img
  APPEND console=ttyS0 quiet panic=-1 hostname=kiln-installer
EOF
cp "$KERNEL" "$iso/vmlinuz"
cat "$INITRD" "$tmp/extra.cpio.gz" >"$iso/install.img"
genisoimage -quiet -V KILN_INSTALLER -o "$tmp/installer.iso" -b isolinux/isolinux.bin -c isolinux/boot.cat \
    -no-emul-boot -boot-load-size 4 -boot-info-table -R -J "$iso"
mv -f "$tmp/installer.iso" "$OUT/installer.iso"
printf '%s %s\n' "$size" "$sum" >"$OUT/disk.sha256"
echo "$want" >"$OUT/stamp"
echo "$OUT/installer.iso"
