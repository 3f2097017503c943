/**
 * The KVM volume facet: data disks hot-plugged with `virsh attach-disk` / `detach-disk` on the
 * bus the VM's dataDiskController detail names (virtio by default: a PCI device the guest sees come
 * and go; scsi: a LUN of a virtio-scsi controller, added when the domain has none; sata and ide only
 * while the VM is stopped), in the running domain (`--live`) and its persistent
 * definition (`--config`). The disk is a volume of the host's pool, found by Kiln's volume name;
 * no path ever comes from a user. Every virsh call goes through Virsh.run, so each argument is
 * quoted at the one quoting point (shell.ts / virsh-shell.ts).
 *
 * A live detach is a request to the guest: libvirt returns once it has asked, and the device goes
 * when the guest lets it go. So the live half goes first and is waited for (the definition still
 * has the disk if the guest never answers, and the call fails with nothing changed there); the
 * persistent half follows. An attach that fails deletes the volume it created for it.
 */
import { DriverError, type DiskBus, type VolumeDisk, type VolumeFacet } from '../types.js';
import { detailBus, SCSI_MODEL, TARGET_PREFIX } from './disk-buses.js';
import type { ParsedDomain } from './domain-xml.js';
import { targetName } from './domain-xml.js';
import { createVolume, deleteVolume, findVolume, type HostStorage } from './storage.js';
import type { VolumeInfo } from './resource-xml.js';
import { virshError } from './virsh.js';
import { buildXml } from './xml.js';

/** What the facet needs of its session. */
export interface KvmVolumeHost {
  readonly pools: HostStorage;
  /** The pool a disk without its own goes to. */
  readonly defaultPool: string;
  domain(name: string, inactive?: boolean): Promise<ParsedDomain>;
  isActive(name: string): Promise<boolean>;
}

/** Buses qemu can hot-plug a disk on (a virtio PCI device, or a LUN of a virtio-scsi controller); SATA and IDE disks exist only from the start. */
const HOTPLUG_BUSES: ReadonlySet<DiskBus> = new Set<DiskBus>(['virtio', 'scsi']);

/** How long a running guest gets to release a disk before the detach is given up. */
const DETACH_WAIT_MS = 30_000;
const DETACH_POLL_MS = 250;

export function kvmVolumes(host: KvmVolumeHost): VolumeFacet {
  const { virsh } = host.pools;
  const poolOf = (disk: VolumeDisk) => disk.pool ?? host.defaultPool;
  const existing = async (disk: VolumeDisk): Promise<VolumeInfo> => {
    const volume = await findVolume(host.pools, poolOf(disk), disk.name);
    if (!volume) throw new DriverError(`volume ${disk.name} not found in pool ${poolOf(disk)} on the host`, 'not-found');
    return volume;
  };
  /** The disk's target in the domain (by its image path), live or persistent view. */
  const targetOf = async (vm: string, path: string, inactive: boolean) => (await host.domain(vm, inactive)).disks.find((d) => d.device === 'disk' && d.path === path)?.target;

  return {
    async attach(vm, disk, options) {
      const live = options.live && (await host.isActive(vm));
      // The VM's dataDiskController detail picks the bus, as it does at define (disk-buses.ts).
      const bus = disk.bus ?? detailBus(options.details, false) ?? 'virtio';
      if (live && !HOTPLUG_BUSES.has(bus)) {
        throw new DriverError(`a ${bus.toUpperCase()} disk cannot be hot-plugged into running domain ${vm} (qemu adds ${bus} disks only at start); stop the VM to attach it, or give it dataDiskController virtio or scsi`, 'unsupported');
      }
      const created = options.create && !(await findVolume(host.pools, poolOf(disk), disk.name));
      const volume = created ? await createVolume(host.pools, poolOf(disk), { name: disk.name, sizeBytes: disk.sizeBytes, device: 'disk' }) : await existing(disk);
      try {
        const views = [await host.domain(vm, true), ...(live ? [await host.domain(vm)] : [])];
        if (views.some((d) => d.disks.some((x) => x.path === volume.path))) throw new DriverError(`domain ${vm} already has disk ${disk.name}`, 'invalid');
        const scope = ['--config', ...(live ? ['--live'] : [])];
        // SCSI disks go on a virtio-scsi controller, as define puts them; libvirt would add an lsilogic one.
        if (bus === 'scsi' && !views.every((d) => d.controllers.some((c) => c.type === 'scsi' && c.model === SCSI_MODEL))) {
          await virsh.run(['attach-device', '--domain', vm, '--file', '/dev/stdin', ...scope], { stdin: buildXml({ controller: { '@_type': 'scsi', '@_model': SCSI_MODEL } }) });
        }
        // A target free in both the definition and the running domain (vda, sda, hda… by bus; hdc is the CD-ROM).
        const used = new Set(views.flatMap((d) => d.disks.map((x) => x.target)));
        let index = 0;
        while (used.has(targetName(TARGET_PREFIX[bus], index))) index++;
        const format = volume.format === 'unknown' ? 'raw' : volume.format;
        await virsh.run([
          'attach-disk', '--domain', vm, '--source', volume.path, '--target', targetName(TARGET_PREFIX[bus], index), '--targetbus', bus,
          '--driver', 'qemu', '--subdriver', format, ...scope,
        ]);
      } catch (error) {
        if (created) await deleteVolume(host.pools, poolOf(disk), disk.name).catch(() => undefined);
        throw error;
      }
      return {};
    },

    async detach(vm, disk, options) {
      // A disk never made (an attach interrupted before it was) is in no definition: nothing to take out.
      const volume = await findVolume(host.pools, poolOf(disk), disk.name);
      if (!volume) return;
      const configTarget = await targetOf(vm, volume.path, true);
      if (options.live && (await host.isActive(vm))) {
        const liveTarget = await targetOf(vm, volume.path, false);
        if (liveTarget) {
          await virsh.run(['detach-disk', '--domain', vm, '--target', liveTarget, '--live']);
          const deadline = Date.now() + DETACH_WAIT_MS;
          while ((await targetOf(vm, volume.path, false)) !== undefined) {
            if (Date.now() > deadline) throw new DriverError(`the guest of ${vm} did not release disk ${liveTarget} within ${DETACH_WAIT_MS / 1000} s; it is still attached`, 'timeout');
            await new Promise((resolve) => setTimeout(resolve, DETACH_POLL_MS));
          }
        }
      }
      if (configTarget) await virsh.run(['detach-disk', '--domain', vm, '--target', configTarget, '--config']);
      else if (!options.live) throw new DriverError(`domain ${vm} has no disk ${disk.name}`, 'not-found');
    },

    async resize(disk, sizeBytes, options) {
      const volume = await existing(disk);
      if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) throw new DriverError(`invalid disk size ${sizeBytes}`, 'invalid');
      const shrinking = sizeBytes < volume.capacityBytes;
      if (shrinking && !options.shrink) throw new DriverError(`disk ${disk.name} would shrink from ${volume.capacityBytes} to ${sizeBytes} bytes; shrinking needs shrink`, 'invalid');
      const target = options.vm !== undefined && options.live && (await host.isActive(options.vm)) ? await targetOf(options.vm, volume.path, false) : undefined;
      if (target) {
        // qemu grows the image and tells the guest the new capacity; a running guest is never shrunk under its file system.
        if (shrinking) throw new DriverError(`disk ${disk.name} of running domain ${options.vm} cannot shrink; stop the VM first`, 'unsupported');
        await virsh.run(['blockresize', '--domain', options.vm!, '--path', target, '--size', `${sizeBytes}B`]);
        return;
      }
      const result = await virsh.tryRun(['vol-resize', '--vol', volume.path, '--capacity', `${sizeBytes}B`, ...(shrinking ? ['--shrink'] : [])]);
      if (result.code !== 0) throw virshError(result.stderr, `cannot resize volume ${disk.name}`);
    },
  };
}
