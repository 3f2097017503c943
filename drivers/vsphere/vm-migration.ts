/**
 * Moving a VM: MigrateVM_Task to another host (same cluster, or another cluster with that
 * cluster's pool), and RelocateVM_Task with storage: a datastore for the VM's files and one per
 * disk (migrateVirtualMachineWithVolume, R21). Two phases, as the contract has them: `prepare`
 * checks the destination against the inventory (nothing is sent), `perform` runs the task.
 */
import { DriverError } from '../types.js';
import type { EndpointHost, VsphereEndpoint } from './endpoint.js';
import { mapped } from './errors.js';
import { MoRef, asArray, asMoRef, asNumber, asObject, asString, vm as vim } from './soap/index.js';
import { runTask, type TaskOptions } from './vm-lifecycle.js';

export interface MigrationPlan {
  vm: MoRef;
  host: MoRef;
  /** Set when the destination is in another cluster (MigrateVM_Task needs its pool then). */
  pool?: MoRef;
  crossCluster: boolean;
  /** Storage motion: the datastore for the VM's files, and disk key → datastore. */
  datastore?: MoRef;
  disks?: Array<{ diskId: number; datastore: MoRef }>;
}

export interface MigrationRequest {
  host: MoRef;
  /** The datastore for the VM's home and, per disk (by device key or disk label), its datastore: by moref value (a pool's ref; VsphereEndpoint.datastore). */
  datastore?: string;
  diskDatastores?: Record<string, string>;
}

/** Phase one: everything checked against the cached inventory; throws a DriverError naming what does not fit. */
export async function prepareMigration(ep: VsphereEndpoint, vm: MoRef, req: MigrationRequest): Promise<MigrationPlan> {
  const o = ep.cache.get(vm);
  if (!o) throw new DriverError(`VM ${vm.value} does not exist in vCenter`, 'not-found');
  const label = asString(o.props['name']) ?? vm.value;
  ep.assertReachable(`migrating ${label}`);
  const dest: EndpointHost | undefined = ep.host(req.host);
  if (!dest) throw new DriverError(`host ${req.host.value} is not behind this vCenter`, 'not-found');
  if (dest.connectionState !== 'connected') throw new DriverError(`host ${dest.name} is ${dest.connectionState}`, 'unreachable');
  if (dest.inMaintenance) throw new DriverError(`host ${dest.name} is in maintenance mode`, 'invalid');
  const from = asMoRef(o.props['runtime.host']);
  const src = from && ep.host(from);
  if (from?.equals(req.host) && req.datastore === undefined && Object.keys(req.diskDatastores ?? {}).length === 0) throw new DriverError(`${label} is already on host ${dest.name}`, 'invalid');
  const crossCluster = !!src && !src.computeResource.equals(dest.computeResource);
  const plan: MigrationPlan = { vm, host: req.host, crossCluster };
  if (crossCluster) plan.pool = asMoRef(ep.cache.get(dest.computeResource)?.props['resourcePool']);
  const reachable = ep.refsOf(ep.cache.get(req.host)?.props['datastore']);
  const dsRef = (pool: string, what: string): MoRef => {
    let ds;
    try {
      ds = ep.datastore(pool, reachable);
    } catch (e) {
      if (e instanceof DriverError) throw new DriverError(`${what}: ${e.message}`, e.category);
      throw e;
    }
    if (!reachable.some((r) => r.equals(ds.ref))) throw new DriverError(`${what}: datastore ${asString(ds.props['name']) ?? ds.ref.value} (${ds.ref.value}) is not mounted on host ${dest.name}`, 'invalid');
    return ds.ref;
  };
  if (req.datastore !== undefined) plan.datastore = dsRef(req.datastore, 'datastore');
  if (req.diskDatastores && Object.keys(req.diskDatastores).length > 0) {
    const devices = asArray((await ep.read(vm, ['config.hardware.device']))['config.hardware.device']).map(asObject).filter((d) => d.$type === 'VirtualDisk');
    plan.disks = Object.entries(req.diskDatastores).map(([disk, dsName]) => {
      const dev = devices.find((d) => String(asNumber(d['key'])) === disk || asString(asObject(d['deviceInfo'])['label']) === disk);
      if (!dev) throw new DriverError(`${label} has no disk ${JSON.stringify(disk)}`, 'not-found');
      return { diskId: asNumber(dev['key'])!, datastore: dsRef(dsName, `disk ${disk}`) };
    });
    plan.datastore ??= plan.disks[0]!.datastore;
  }
  return plan;
}

/** Phase two: the task. Host (and pool) only → MigrateVM_Task; with storage → RelocateVM_Task. Resolves once the stream shows the VM on the destination. */
export async function performMigration(ep: VsphereEndpoint, plan: MigrationPlan, opts: TaskOptions = {}): Promise<void> {
  const label = asString(ep.cache.get(plan.vm)?.props['name']) ?? plan.vm.value;
  ep.assertReachable(`migrating ${label}`);
  if (plan.datastore || plan.disks) {
    const pool = plan.pool ?? asMoRef(ep.cache.get(plan.vm)?.props['resourcePool']);
    await mapped(`relocating ${label}`, () => runTask(() => vim.relocate(ep.client, plan.vm, { host: plan.host, pool, datastore: plan.datastore, disks: plan.disks }), opts));
  } else {
    await mapped(`migrating ${label}`, () => runTask(() => vim.migrate(ep.client, plan.vm, { host: plan.host, pool: plan.pool }), opts));
  }
  await ep.refresh(plan.vm, ['runtime.host', 'resourcePool', 'datastore']);
}
