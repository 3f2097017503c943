/**
 * A libvirt domain as an admin writes one by hand for the KVM test guest (direct kernel boot, a
 * Debian 12 libosinfo id, qcow2 disks on virtio unless other buses are asked for, e1000 NICs on
 * user-mode networking unless another model is), for the
 * import tests: Kiln did not define it, so it is what listUnmanagedInstances / listVmsForImport find.
 */
import type { HostsJson } from '../kvm/real-hosts.js';

export interface HandMadeDevices {
  /** Each disk's bus (default virtio); targets follow libvirt's names per bus (vda, sda, hda…) unless given. */
  buses?: string[];
  targets?: string[];
  /** With SCSI disks: the controller's model (virtio-scsi unless given). */
  scsiModel?: string;
  nicModel?: string;
}

const PREFIX: Record<string, string> = { virtio: 'vd', scsi: 'sd', sata: 'sd', ide: 'hd' };

export function handMadeDomainXml(hosts: Pick<HostsJson, 'kernel' | 'initrd'>, name: string, disks: string[], macs: string[], devices: HandMadeDevices = {}): string {
  const counters: Record<string, number> = {};
  const disk = (path: string, i: number) => {
    const bus = devices.buses?.[i] ?? 'virtio';
    const prefix = PREFIX[bus] ?? 'vd';
    const index = (counters[prefix] = (counters[prefix] ?? -1) + 1);
    const target = devices.targets?.[i] ?? `${prefix}${String.fromCharCode(97 + index)}`;
    return `    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${path}'/><target dev='${target}' bus='${bus}'/></disk>`;
  };
  const controllers = devices.buses?.includes('scsi') ? [`    <controller type='scsi' index='0' model='${devices.scsiModel ?? 'virtio-scsi'}'/>`] : [];
  const nic = (mac: string) => `    <interface type='user'><mac address='${mac}'/><model type='${devices.nicModel ?? 'e1000'}'/></interface>`;
  return `<domain type='qemu'>
  <name>${name}</name>
  <metadata><libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0"><libosinfo:os id="http://debian.org/debian/12"/></libosinfo:libosinfo></metadata>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>${hosts.kernel}</kernel><initrd>${hosts.initrd}</initrd><cmdline>console=ttyS0 quiet panic=-1</cmdline></os>
  <features><acpi/></features>
  <devices>
${[...disks.map(disk), ...controllers, ...macs.map(nic)].join('\n')}
    <serial type='pty'><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
  </devices>
</domain>`;
}
