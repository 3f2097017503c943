/**
 * A libvirt domain as an admin writes one by hand for the KVM test guest (direct kernel boot, a
 * Debian 12 libosinfo id, qcow2 disks on virtio, e1000 NICs on user-mode networking), for the
 * import tests: Kiln did not define it, so it is what listUnmanagedInstances / listVmsForImport find.
 */
import type { HostsJson } from '../kvm/real-hosts.js';

export function handMadeDomainXml(hosts: Pick<HostsJson, 'kernel' | 'initrd'>, name: string, disks: string[], macs: string[]): string {
  const disk = (path: string, i: number) => `    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${path}'/><target dev='vd${String.fromCharCode(97 + i)}' bus='virtio'/></disk>`;
  const nic = (mac: string) => `    <interface type='user'><mac address='${mac}'/><model type='e1000'/></interface>`;
  return `<domain type='qemu'>
  <name>${name}</name>
  <metadata><libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0"><libosinfo:os id="http://debian.org/debian/12"/></libosinfo:libosinfo></metadata>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>${hosts.kernel}</kernel><initrd>${hosts.initrd}</initrd><cmdline>console=ttyS0 quiet panic=-1</cmdline></os>
  <features><acpi/></features>
  <devices>
${[...disks.map(disk), ...macs.map(nic)].join('\n')}
    <serial type='pty'><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
  </devices>
</domain>`;
}
