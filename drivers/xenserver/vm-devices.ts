/**
 * A VM's devices beyond what VM.clone gives it, as xapi makes them: a root disk copied from a
 * Kiln image (VDI.copy of the pool's image VDI, then VBD.create as device 0), data disks
 * (VDI.create + VBD.create; VBD.plug / VBD.unplug while it runs; VBD.destroy keeps the VDI, so
 * a detached disk stays in its SR until deleteDisks), CD media (a CD drive, VBD type CD mode RO;
 * VBD.insert / VBD.eject of an image VDI) and NICs (VIF.create per Kiln NIC, in device order, on
 * the network named by ref, name or bridge).
 */
import { DriverError, type NicFacet, type NicSpec, type Ref, type VolumeDisk, type VolumeFacet } from '../types.js';
import { mapped } from './errors.js';
import { findImageVdi, IMAGE_KEY, IMAGE_SHA_KEY, imageSr } from './images.js';
import { checkXapiText } from './names.js';
import type { XenPool } from './pool.js';
import { srHasFeature, srText } from './sr-features.js';
import { runTask } from './vm-lifecycle.js';
import { isNullRef, type VbdRecord, type VdiRecord, type VifRecord, type XRef } from './xapi/records.js';

/** userdevice 3 is the CD drive XenCenter and xapi's templates use; disks take the others. */
const CD_USERDEVICE = '3';

const label = (pool: XenPool, vm: XRef): string => pool.vm(vm)?.name_label || vm;
const running = (pool: XenPool, vm: XRef): boolean => ['Running', 'Paused'].includes(pool.vm(vm)?.power_state ?? '');

async function vbdsOf(pool: XenPool, vm: XRef): Promise<{ ref: XRef; r: VbdRecord }[]> {
  const v = await pool.client.call('VM.get_record', vm) as { VBDs?: XRef[] };
  const out: { ref: XRef; r: VbdRecord }[] = [];
  for (const ref of v.VBDs ?? []) {
    const r = await pool.client.getRecord('VBD', ref).catch(() => undefined);
    if (r) out.push({ ref, r });
  }
  return out;
}

async function freeUserdevice(pool: XenPool, vm: XRef, preferred?: string): Promise<string> {
  const free = await pool.client.call('VM.get_allowed_VBD_devices', vm);
  if (preferred && free.includes(preferred)) return preferred;
  const device = free.find((d) => d !== CD_USERDEVICE);
  if (!device) throw new DriverError(`${label(pool, vm)} has no free device for another disk`, 'insufficient-capacity');
  return device;
}

async function plugDisk(pool: XenPool, vm: XRef, vdi: XRef, opts: { bootable: boolean; userdevice?: string; live: boolean }): Promise<XRef> {
  const vbd = await pool.client.call('VBD.create', {
    VM: vm, VDI: vdi, userdevice: opts.userdevice ?? (await freeUserdevice(pool, vm)), bootable: opts.bootable, mode: 'RW', type: 'Disk',
    unpluggable: true, empty: false, other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {},
  });
  if (opts.live && running(pool, vm)) await pool.client.call('VBD.plug', vbd);
  return vbd;
}

/** An empty data disk named NAME (Kiln's volume name) on its pool's SR or the pool's default one. */
async function createDisk(pool: XenPool, name: string, sizeBytes: number, sr?: string): Promise<XRef> {
  return pool.client.call('VDI.create', {
    name_label: checkXapiText(name, 'disk name'), name_description: 'Kiln volume', SR: imageSr(pool, sizeBytes, sr), virtual_size: sizeBytes, type: 'user',
    sharable: false, read_only: false, other_config: {}, xenstore_data: {}, sm_config: {}, tags: [],
  });
}

/** The VDI of a Kiln disk: by its ref when it is one, else the one named so. */
async function vdiOf(pool: XenPool, disk: VolumeDisk): Promise<XRef | undefined> {
  if (disk.ref?.startsWith('OpaqueRef:')) {
    const r = await pool.client.getRecord('VDI', disk.ref).catch(() => undefined);
    if (r) return disk.ref;
  }
  return (await pool.client.call('VDI.get_by_name_label', disk.name))[0];
}

/** A VM made from a Kiln image: its root disk is a copy of the image VDI, named as Kiln named the volume, device 0. */
export async function rootFromImage(pool: XenPool, vm: XRef, image: XRef, disk: { name: string; sizeBytes: number; pool?: string }, opts: Parameters<typeof runTask>[3] = {}): Promise<XRef> {
  const src = await pool.client.getRecord('VDI', image) as VdiRecord;
  const sr = disk.pool ? imageSr(pool, src.virtual_size, disk.pool) : src.SR;
  const copy = String(await runTask(pool, 'VDI.copy', [image, sr, 'OpaqueRef:NULL', 'OpaqueRef:NULL'], opts));
  try {
    await pool.client.call('VDI.set_name_label', copy, checkXapiText(disk.name, 'disk name'));
    // The copy is the VM's disk, not another copy of the image.
    await pool.client.call('VDI.remove_from_other_config', copy, IMAGE_SHA_KEY);
    await pool.client.call('VDI.remove_from_other_config', copy, IMAGE_KEY);
    if (disk.sizeBytes > src.virtual_size) await pool.client.call('VDI.resize', copy, disk.sizeBytes);
    await plugDisk(pool, vm, copy, { bootable: true, userdevice: '0', live: false });
    return copy;
  } catch (e) {
    await pool.client.call('VDI.destroy', copy).catch(() => undefined);
    throw e;
  }
}

/** Data disks the spec has beyond the VM's: made empty and plugged in, in order. */
export async function addMissingDisks(pool: XenPool, vm: XRef, disks: { name: string; sizeBytes: number; pool?: string }[]): Promise<void> {
  // Read from xapi, not the feed: the root disk may have been plugged in a moment ago.
  const have = (await vbdsOf(pool, vm)).filter((b) => b.r.type === 'Disk').length;
  for (const d of disks.slice(have)) {
    const vdi = await createDisk(pool, d.name, d.sizeBytes, d.pool);
    try {
      await plugDisk(pool, vm, vdi, { bootable: false, live: false });
    } catch (e) {
      await pool.client.call('VDI.destroy', vdi).catch(() => undefined);
      throw e;
    }
  }
}

/** The VolumeFacet (attachVolume, detachVolume, resizeVolume). */
export function xenVolumes(pool: XenPool, vmOf: (ref: Ref) => XRef): VolumeFacet {
  return {
    attach: async (vmRef, disk, options) => {
      const vm = vmOf(vmRef);
      pool.assertReachable(`attaching ${disk.name} to ${label(pool, vm)}`);
      return mapped(`attaching ${disk.name} to ${label(pool, vm)}`, async () => {
        const made = options.create ? await createDisk(pool, disk.name, disk.sizeBytes, disk.pool) : await vdiOf(pool, disk);
        if (!made) throw new DriverError(`the pool has no disk ${disk.name}`, 'not-found');
        if ((await vbdsOf(pool, vm)).some((b) => b.r.VDI === made)) throw new DriverError(`${label(pool, vm)} already has disk ${disk.name}`, 'invalid');
        try {
          await plugDisk(pool, vm, made, { bootable: false, live: options.live });
        } catch (e) {
          if (options.create) await pool.client.call('VDI.destroy', made).catch(() => undefined);
          throw e;
        }
        await pool.settle('VM', vm);
        return { ref: made };
      });
    },
    detach: async (vmRef, disk, options) => {
      const vm = vmOf(vmRef);
      pool.assertReachable(`detaching ${disk.name} from ${label(pool, vm)}`);
      await mapped(`detaching ${disk.name} from ${label(pool, vm)}`, async () => {
        const vdi = await vdiOf(pool, disk);
        const vbd = vdi ? (await vbdsOf(pool, vm)).find((b) => b.r.type === 'Disk' && b.r.VDI === vdi) : undefined;
        if (!vbd) throw new DriverError(`${label(pool, vm)} has no disk ${disk.name}`, 'not-found');
        if (vbd.r.userdevice === '0') throw new DriverError(`${disk.name} is the root disk of ${label(pool, vm)}`, 'invalid');
        if (vbd.r.currently_attached && running(pool, vm)) {
          if (!options.live) throw new DriverError(`${label(pool, vm)} is running; its disk is detached live or not at all`, 'invalid');
          await pool.client.call('VBD.unplug', vbd.ref);
        }
        // The VBD goes; the VDI stays in its SR (deleteDisks removes it).
        await pool.client.call('VBD.destroy', vbd.ref);
        await pool.settle('VM', vm);
      });
    },
    resize: async (disk, sizeBytes, options) => {
      pool.assertReachable(`resizing ${disk.name}`);
      await mapped(`resizing ${disk.name}`, async () => {
        const vdi = await vdiOf(pool, disk);
        if (!vdi) throw new DriverError(`the pool has no disk ${disk.name}`, 'not-found');
        const r = await pool.client.getRecord('VDI', vdi) as VdiRecord;
        if (sizeBytes < r.virtual_size && !options.shrink) throw new DriverError(`${disk.name}: ${sizeBytes} bytes is smaller than its ${r.virtual_size}; a shrink must be asked for`, 'invalid');
        if (sizeBytes < r.virtual_size) throw new DriverError(`${disk.name}: xapi's storage grows disks only`, 'unsupported');
        // A disk plugged into a running VM: VDI.resize_online, which xapi allows only where the SR's
        // SM driver has VDI_RESIZE_ONLINE (VDI.resize would be VDI_IN_USE); otherwise VDI.resize.
        const vm = options.vm ? vmOf(options.vm) : undefined;
        const plugged = vm !== undefined && running(pool, vm) && (await vbdsOf(pool, vm)).some((b) => b.r.VDI === vdi && b.r.currently_attached);
        if (!plugged) return void (await pool.client.call('VDI.resize', vdi, sizeBytes));
        if (!options.live) throw new DriverError(`${label(pool, vm)} is running; its disk ${disk.name} is resized live or not at all`, 'invalid');
        if (!srHasFeature(pool, r.SR, 'VDI_RESIZE_ONLINE')) {
          throw new DriverError(`${disk.name}: storage repository ${srText(pool, r.SR)} cannot resize a disk in use (its SM driver has no VDI_RESIZE_ONLINE); stop ${label(pool, vm)} and resize it then`, 'unsupported');
        }
        await pool.client.call('VDI.resize_online', vdi, sizeBytes);
      });
    },
  };
}

/**
 * The VM's CD media are MEDIA (image names, in order; [] ejects them): the first goes into the CD
 * drive at device 3 (made, read-only, when the VM has none), more into further CD drives.
 */
export async function setCdMedia(pool: XenPool, vm: XRef, media: string[]): Promise<void> {
  const cds = (await vbdsOf(pool, vm)).filter((b) => b.r.type === 'CD').sort((a, b) => Number(a.r.userdevice) - Number(b.r.userdevice));
  for (const [i, name] of media.entries()) {
    const vdi = await findImageVdi(pool, name);
    if (!vdi) throw new DriverError(`ISO ${name} has not been staged in this pool`, 'not-found');
    const cd = cds[i];
    if (cd && cd.r.VDI === vdi && !cd.r.empty) continue;
    if (cd) {
      if (!cd.r.empty) await pool.client.call('VBD.eject', cd.ref);
      await pool.client.call('VBD.insert', cd.ref, vdi);
      continue;
    }
    const vbd = await pool.client.call('VBD.create', {
      VM: vm, VDI: vdi, userdevice: await freeUserdevice(pool, vm, CD_USERDEVICE), bootable: false, mode: 'RO', type: 'CD',
      unpluggable: false, empty: false, other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {},
    });
    if (running(pool, vm)) await pool.client.call('VBD.plug', vbd);
  }
  for (const cd of cds.slice(media.length)) if (!cd.r.empty && !isNullRef(cd.r.VDI)) await pool.client.call('VBD.eject', cd.ref);
}

/** The pool network a Kiln NIC is on: by ref, name_label or bridge; else the pool's automatic (management) network. */
function networkOf(pool: XenPool, nic: NicSpec): XRef {
  const nets = pool.inventory.all('network');
  const named = nets.find(([ref, n]) => ref === nic.network || n.name_label === nic.network || n.bridge === nic.network)
    ?? nets.find(([, n]) => n.other_config?.['automatic'] === 'true');
  if (!named) throw new DriverError(`the pool has no network ${JSON.stringify(nic.network)} (by ref, name or bridge) and no automatic network`, 'not-found');
  return named[0];
}

async function vifsOf(pool: XenPool, vm: XRef): Promise<{ ref: XRef; r: VifRecord }[]> {
  const v = await pool.client.call('VM.get_record', vm) as { VIFs?: XRef[] };
  const out: { ref: XRef; r: VifRecord }[] = [];
  for (const ref of v.VIFs ?? []) {
    const r = await pool.client.getRecord('VIF', ref).catch(() => undefined);
    if (r) out.push({ ref, r });
  }
  return out;
}

/**
 * The NicFacet: a VIF made (VIF.create) and, on a running VM, hot-plugged (VIF.plug); or unplugged
 * (VIF.unplug) and destroyed. xapi hot-plugs a NIC of an HVM guest only with its PV drivers
 * (xapi_vif_helpers.ml: VM_MISSING_PV_DRIVERS). A VIF whose plug fails is destroyed again, and one
 * whose destroy fails after its unplug is plugged back, so no call leaves a half-made NIC.
 */
export function xenNics(pool: XenPool, vmOf: (ref: Ref) => XRef): NicFacet {
  return {
    add: async (vmRef, nic, options) => {
      const vm = vmOf(vmRef);
      const doing = `adding NIC ${nic.macAddress} to ${label(pool, vm)}`;
      pool.assertReachable(doing);
      await mapped(doing, async () => {
        const device = String(options.device);
        const mac = nic.macAddress.toLowerCase();
        if ((await vifsOf(pool, vm)).some((x) => x.r.MAC.toLowerCase() === mac)) throw new DriverError(`${label(pool, vm)} already has NIC ${mac}`, 'invalid');
        if (!(await pool.client.call('VM.get_allowed_VIF_devices', vm)).includes(device)) throw new DriverError(`${label(pool, vm)} has no free NIC device ${device}`, 'insufficient-capacity');
        const vif = await pool.client.call('VIF.create', { device, network: networkOf(pool, nic), VM: vm, MAC: mac, MTU: 1500, other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {} });
        if (options.live && running(pool, vm)) {
          try {
            await pool.client.call('VIF.plug', vif);
          } catch (e) {
            await pool.client.call('VIF.destroy', vif).catch(() => undefined);
            throw e;
          }
        }
        await pool.settle('VM', vm);
      });
    },
    remove: async (vmRef, nic, options) => {
      const vm = vmOf(vmRef);
      const doing = `removing NIC ${nic.macAddress} from ${label(pool, vm)}`;
      pool.assertReachable(doing);
      await mapped(doing, async () => {
        const vif = (await vifsOf(pool, vm)).find((x) => x.r.MAC.toLowerCase() === nic.macAddress.toLowerCase());
        if (!vif) return;
        const plugged = vif.r.currently_attached && running(pool, vm);
        if (plugged) {
          if (!options.live) throw new DriverError(`${label(pool, vm)} is running; its NIC is removed live or not at all`, 'invalid');
          await pool.client.call('VIF.unplug', vif.ref);
        }
        try {
          await pool.client.call('VIF.destroy', vif.ref);
        } catch (e) {
          if (plugged) await pool.client.call('VIF.plug', vif.ref).catch(() => undefined);
          throw e;
        }
        await pool.settle('VM', vm);
      });
    },
  };
}

/** The VM's VIFs are the spec's NICs: device i on NIC i's network with its MAC; others go. Halted VMs only (a define). */
export async function setNics(pool: XenPool, vm: XRef, nics: NicSpec[]): Promise<void> {
  const vifs = await vifsOf(pool, vm);
  const wanted = nics.map((n, i) => ({ device: String(i), network: networkOf(pool, n), mac: n.macAddress.toLowerCase() }));
  for (const x of vifs) {
    const w = wanted.find((n) => n.device === x.r.device);
    if (!w || w.network !== x.r.network || w.mac !== x.r.MAC.toLowerCase()) await pool.client.call('VIF.destroy', x.ref);
  }
  const kept = new Set(vifs.filter((x) => wanted.some((w) => w.device === x.r.device && w.network === x.r.network && w.mac === x.r.MAC.toLowerCase())).map((x) => x.r.device));
  for (const w of wanted) {
    if (kept.has(w.device)) continue;
    const vif = await pool.client.call('VIF.create', { device: w.device, network: w.network, VM: vm, MAC: w.mac, MTU: 1500, other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {} });
    if (running(pool, vm)) await pool.client.call('VIF.plug', vif);
  }
}
