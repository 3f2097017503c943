import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { hostListViews } from '../../views.js';
import { clusterOnlyReason, migrationOutcome, SAME_HOST_REASON } from '../../placement/migration.js';
import type { HostRow } from '../../hosts/host-manager.js';

export default defineCommand({
  name: 'findHostsForMigration',
  description: 'Find hosts suitable for migrating a virtual machine: every host, with suitable or not and the reason.',
  kind: 'list',
  roles: ADMIN_ONLY,
  response: 'host',
  params: [{ name: 'id', type: 'uuid', required: true, description: 'find hosts to which this VM can be migrated' }],
  handler({ engine, caller }, args) {
    const vm = engine.vms.forCaller(caller, args.uuid('id')!);
    const outcome = migrationOutcome(engine, vm);
    const all = engine.db.prepare('SELECT * FROM hosts WHERE zone_id=? AND removed IS NULL ORDER BY id').all(vm.zone_id) as HostRow[];
    const verdicts = new Map(outcome.considered.map((v) => [v.hostId, v]));
    // Primary storage is the cluster's (a pool's SRs, a cluster's datastores): a host in another
    // cluster has the VM's disks only after storage motion, as CloudStack reports it; unless the
    // placement verdict found every disk where it is reached from that host (a store both clusters'
    // records share: a datastore the host mounts) and the driver does not carry disks across
    // clusters anyway. A disk with no pool record is not known to be reached.
    const from = all.find((h) => h.id === vm.host_id);
    const carries = engine.hosts.knownDriver(vm.hypervisor)?.capabilities?.crossClusterCarriesDisks === true;
    const unrecorded = engine.db.prepare('SELECT COUNT(*) FROM volumes WHERE vm_id=? AND removed IS NULL AND pool_id IS NULL').pluck().get(vm.id) as number;
    const views = hostListViews(engine, all);
    return all.map((h, i) => {
      const verdict = verdicts.get(h.uuid);
      const reason = verdict?.reason ?? (h.id === vm.host_id ? SAME_HOST_REASON : clusterOnlyReason(vm));
      const staysReached = verdict?.suitable === true && !carries && unrecorded === 0;
      return { ...views[i], suitableformigration: verdict?.suitable ?? false, requiresstoragemotion: from !== undefined && h.cluster_id !== from.cluster_id && !staysReached, reason };
    });
  },
});
