/**
 * Taking over XenServer VMs Kiln did not make (ImportFacet, listUnmanagedInstances /
 * importUnmanagedInstance), and bringing an exported VM in first: an XVA from Kiln's image store
 * (`xe vm-export`'s tar: ova.xml and the disks' checksummed chunks) sent to xapi's HTTP handler
 * `PUT /import?sr_id=…` (xen-api import.ml) under a task Kiln creates, whose result is the new
 * VM. xapi makes the VM halted and homeless; Kiln gives it the importing host as its affinity, so
 * it is that host's unmanaged VM, and leaves everything else as xapi made it. A failed import is
 * xapi's to clean up (import.ml destroys what it made) and reaches the engine as the task's error.
 *
 * A VM's detail is read for that VM when listed: its VBDs and VDIs (disks by userdevice, on their
 * SRs), its VIFs (MAC, network, device). xapi has no disk controller or NIC model to choose: every
 * disk is a PV block device and every NIC netfront (XENSERVER_DEFAULTS), so none is mixed.
 */
import { DriverError, type AdoptedVm, type ImportFacet, type InstanceInfo, type OperationOptions, type StoredImage } from '../types.js';
import { mapped } from './errors.js';
import { MiB, isGuest, markKilns, powerOf, unmarkKilns, type XenPool } from './pool.js';
import { hostReachesSr, isDiskSr } from './sr-scope.js';
import { uploadToSr } from './sr-upload.js';
import { disksOf } from './vm-disks.js';
import { isNullRef, type VifRecord, type VmRecord, type XRef } from './xapi/records.js';

/** The guest OS a VM was made for: the xapi template it came from (other_config base_template_name), else its own reference label. */
function osOf(v: VmRecord): string | undefined {
  return v.other_config?.['base_template_name'] || v.other_config?.['install-distro'] || undefined;
}

async function detail(pool: XenPool, ref: XRef, v: VmRecord): Promise<InstanceInfo> {
  const disks = await disksOf(pool, ref);
  const vifs = await Promise.all((v.VIFs ?? []).map(async (vif) => ({ vif, r: (await pool.client.getRecord('VIF', vif).catch(() => undefined)) as VifRecord | undefined })));
  return {
    ref, name: v.name_label, uuid: v.uuid, powerState: powerOf(v.power_state),
    cpuNumber: Number(v.VCPUs_at_startup), memoryMiB: Math.round(Number(v.memory_static_max) / MiB),
    osDisplayName: osOf(v), isTemplate: v.is_a_template === true, toolsRunning: !isNullRef(v.guest_metrics),
    // In userdevice order (disksOf): the position a guest sees (xvda first); Xen has no controller to name.
    disks: disks.map((d, i) => ({
      id: d.vdi, label: d.record.name_label, capacityBytes: Number(d.record.virtual_size), controllerUnit: i, position: i,
      imagePath: d.record.uuid, datastore: d.record.SR,
    })),
    nics: vifs.filter((x) => x.r).map(({ vif, r }) => ({
      id: vif, macAddress: r!.MAC, networkName: pool.inventory.get('network', r!.network)?.name_label, adapterType: 'netfront', pciSlot: r!.device,
    })),
  };
}

/** The ImportFacet of HOST's session. */
export function xenImport(pool: XenPool, host: XRef): ImportFacet {
  const own = (ref: XRef): VmRecord => {
    const v = pool.vm(ref);
    if (!isGuest(v) || pool.homeOf(v) !== host) throw new DriverError(`VM ${ref} is not on host ${pool.host(host)?.name_label ?? host}`, 'not-found');
    return v;
  };
  return {
    list: () => mapped('listing the VMs for import', async () => Promise.all(pool.vmsOn(host).map(([ref, v]) => detail(pool, ref, v)))),
    inspect: (vm) => mapped(`reading VM ${vm}`, async () => detail(pool, vm, own(vm))),
    adopt: async (vm, listed, _privateVlanNics, uuid): Promise<AdoptedVm> => {
      const v = own(vm);
      const info = listed ?? (await detail(pool, vm, v));
      if (!['Halted', 'Running'].includes(v.power_state)) throw new DriverError(`${v.name_label} is ${v.power_state.toLowerCase()}; only a running or halted VM is taken over`, 'invalid');
      // Kiln's mark, as define gives a VM Kiln makes: a lost move of it is followed, its home follows the platform's moves.
      if (uuid) {
        await mapped(`taking over ${v.name_label}`, async () => {
          await markKilns(pool, vm, uuid);
          await pool.settle('VM', vm);
        });
      }
      return { ref: vm, disks: info.disks.map((d) => ({ id: d.id, name: d.label ?? d.id, ref: d.id, pool: d.datastore })) };
    },
    release: (vm) => mapped(`releasing ${pool.vm(vm)?.name_label ?? vm}`, () => unmarkKilns(pool, vm)),
    importArchive: (archive, options) => importArchive(pool, host, archive, options),
  };
}

/**
 * Sends ARCHIVE (an XVA) to the pool's /import into SR (a disk SR this host reaches; absent: the
 * pool's default SR), names the new VM NAME when given, and makes HOST its home. Resolves to its ref.
 * A local SR of a member is imported by that member: xapi answers the master's upload with a
 * redirect there, which is followed once it names the pool host that reaches the SR (sr-upload.ts).
 */
export async function importArchive(pool: XenPool, host: XRef, archive: StoredImage, options: OperationOptions & { pool?: string; name?: string } = {}): Promise<XRef> {
  pool.assertReachable(`importing ${archive.name}`);
  const srs = pool.inventory.all('SR').filter(([, s]) => isDiskSr(s));
  const sr = options.pool ? srs.find(([ref, s]) => ref === options.pool || s.name_label === options.pool)?.[0] : pool.poolRecord()?.default_SR;
  if (!sr || !pool.inventory.get('SR', sr)) throw new DriverError(options.pool ? `the pool has no storage repository ${JSON.stringify(options.pool)}` : 'the pool has no default SR to import into; name one', 'not-found');
  const s = pool.inventory.get('SR', sr)!;
  if (!hostReachesSr(pool, sr, host)) throw new DriverError(`storage repository ${s.name_label} is another host's local storage; host ${pool.host(host)?.name_label ?? host} does not reach it`, 'invalid');
  if (!archive.sizeBytes) throw new DriverError(`${archive.name}: the archive's size is unknown; xapi's /import needs its length`, 'invalid');
  const result = await mapped(`importing ${archive.name} into ${s.name_label}`, () => uploadToSr(pool, sr, '/import', { sr_id: sr }, archive.open, archive.sizeBytes, { ...options, label: `Kiln: import ${archive.name}` }));
  const refs = (Array.isArray(result) ? result : [result]).map(String).filter((r) => r.startsWith('OpaqueRef:'));
  const vm = refs[0];
  if (!vm) throw new DriverError(`importing ${archive.name}: xapi's task named no VM`, 'failed');
  await mapped(`setting up the imported VM`, async () => {
    if (options.name) await pool.client.call('VM.set_name_label', vm, options.name);
    await pool.client.call('VM.set_affinity', vm, host);
    await pool.settle('VM', vm);
  });
  return vm;
}
