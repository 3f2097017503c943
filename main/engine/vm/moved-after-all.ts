/**
 * A move whose outcome Kiln could not learn, followed once the hosts show it. A cross-endpoint
 * migration (xapi across pools) gives the VM new refs in the other endpoint; when its answer is
 * lost and the driver's bounded wait gives up, the job fails (the VM recorded where it was) while
 * the hypervisor may still finish the move. The VM is then missing from its recorded host and runs
 * under an unknown ref on a host of the other cluster, carrying Kiln's uuid (InstanceInfo.uuid).
 *
 * The reconcile pass hands every instance it cannot match by ref to followMovedVm, and before it
 * records a Running VM missing from its host as stopped it looks for it by uuid on the hosts of the
 * zone's other clusters whose driver can follow such a move (followIfMovedAway): an HA VM must not
 * be restarted while it runs elsewhere, nor a pass's order decide what is recorded. Kiln takes the
 * instance for its VM only when the driver of the host it is on can say how the VM and its disks
 * are addressed there (MigrationFacet.arrived) and the VM's recorded host answers that it does not
 * have the VM any more: a copy both still hold is left to the fencing rules, and a host that does
 * not answer decides nothing. Then the VM's ref, host, pod and cluster and its volumes' refs and
 * pools are recorded (moved-disks.ts: an import's migrateallowed vouch ends for the disks that
 * moved, as after a move that answered), and a VM.MIGRATE event says the move completed after all.
 */
import type { Engine } from '../engine.js';
import type { InstancePower } from '../../../drivers/types.js';
import { withDeadline } from '../hosts/fan-out.js';
import { recordMovedDisks } from './moved-disks.js';
import { vmRef, type VmRow } from './rows.js';

/** True when INSTANCE on HOST was recognised as a Kiln VM that moved there and is now recorded so. */
export async function followMovedVm(engine: Engine, host: { id: number; name: string }, instance: InstancePower): Promise<boolean> {
  const { db } = engine;
  if (!instance.uuid) return false;
  const vm = db.prepare(`SELECT * FROM vm_instances WHERE uuid=? AND removed IS NULL AND state IN ('Running','Stopped')`).get(instance.uuid) as VmRow | undefined;
  if (!vm || vmRef(vm) === instance.ref) return false;
  // Another VM's ref: not this VM, whatever uuid it carries.
  if (db.prepare('SELECT 1 FROM vm_instances WHERE ref=? AND removed IS NULL').get(instance.ref)) return false;
  const home = vm.state === 'Running' ? vm.host_id : vm.last_host_id;
  if (home === null || home === host.id) return false;
  const session = await engine.hosts.session(host.id);
  if (!session.migration?.arrived) return false;
  const left = await (await engine.hosts.session(home)).powerState(vmRef(vm)).catch(() => undefined);
  if (left !== 'Missing') return false;
  const moved = await session.migration.arrived(instance.ref, engine.vms.spec(vm));
  const from = db.prepare('SELECT name FROM hosts WHERE id=?').pluck().get(home) as string;
  const to = db.prepare('SELECT name, pod_id, cluster_id FROM hosts WHERE id=?').get(host.id) as { name: string; pod_id: number; cluster_id: number };
  const running = instance.powerState === 'Running';
  const target = running ? 'Running' : 'Stopped';
  const note = `found on host ${to.name} after it left host ${from}: its move completed after all`;
  const recorded = db.transaction(() => {
    // Only if nobody changed the VM while the hosts answered (a user's start, an HA restart).
    const current = engine.vms.get(vm.id);
    if (current.update_count !== vm.update_count) return false;
    // A change of state goes through transition (its event, usage record and bus message).
    if (current.state !== target) engine.vms.transition(current, target, { hostId: running ? host.id : null, note });
    db.prepare('UPDATE vm_instances SET ref=?, host_id=?, last_host_id=?, pod_id=?, cluster_id=?, update_count=update_count+1 WHERE id=?')
      .run(moved?.ref ?? instance.ref, running ? host.id : null, host.id, to.pod_id, to.cluster_id, vm.id);
    // Its disks on the pools they are on now, the vouch ended for those that moved (the same rule as a move that answered).
    recordMovedDisks(engine, vm.id, (moved && moved.disks) || [], to.cluster_id, host.id);
    return true;
  })();
  if (!recorded) return false;
  engine.log.warn(`VM ${vm.uuid} ${note}`);
  engine.events.record({
    type: 'VM.MIGRATE',
    description: `VM ${vm.display_name} (${vm.uuid}) is ${running ? 'running' : 'stopped'} on host ${to.name}: its move from host ${from}, reported failed when its outcome could not be learned, completed after all; Kiln follows`,
    accountId: vm.account_id, domainId: vm.domain_id, resourceType: 'VirtualMachine', resourceUuid: vm.uuid,
  });
  return true;
}

/**
 * VM, Running on a host that does not have it any more: true when a host of another cluster of its
 * zone runs or holds it under Kiln's uuid and followMovedVm recorded it there. Each host gets
 * host.check.timeout to list its VMs; one that does not answer is skipped.
 */
export async function followIfMovedAway(engine: Engine, vm: VmRow): Promise<boolean> {
  const hosts = engine.db
    .prepare(`SELECT id, name FROM hosts WHERE zone_id=? AND cluster_id<>? AND state='Up' AND removed IS NULL ORDER BY id`)
    .all(vm.zone_id, vm.cluster_id ?? -1) as { id: number; name: string }[];
  const timeoutMs = Math.max(1, engine.settings.int('host.check.timeout')) * 1000;
  for (const host of hosts) {
    const instance = await withDeadline((async () => {
      const session = await engine.hosts.session(host.id);
      if (!session.migration?.arrived) return undefined;
      const instances = session.listPowerStates ? await session.listPowerStates() : await session.listInstances();
      return instances.find((i) => i.uuid === vm.uuid);
    })(), timeoutMs, `host ${host.name}`).catch(() => undefined);
    if (instance) return followMovedVm(engine, host, instance);
  }
  return false;
}
