/**
 * Every list command of the registry and what it needs to be called at all, for tests that run
 * them all (list-paging, list-statements): a new list command is covered by them automatically,
 * or they fail asking what to call it with.
 */
import type { TestEngine } from './engine.js';
import type { Caller, CommandDef } from '../../main/engine/registry/types.js';

export function listCommands(t: TestEngine, caller: Caller = t.admin): CommandDef[] {
  return t.engine.registry.visibleTo(caller).filter((d) => d.kind === 'list');
}

/** The parameters COMMAND needs, or undefined for a list-shaped command that is not a list of Kiln's rows. */
export function requiredParams(t: TestEngine, command: string): Record<string, string> | undefined {
  const one = (sql: string) => t.engine.db.prepare(sql).pluck().get() as string;
  if (command === 'listTemplates') return { templatefilter: 'all' };
  if (command === 'listDetailOptions') return { resourcetype: 'UserVm' };
  if (command === 'listResourceDetails') return { resourcetype: 'Zone' };
  if (command === 'findHostsForMigration') return { id: one(`SELECT uuid FROM vm_instances WHERE state='Running' ORDER BY id LIMIT 1`) };
  if (command === 'listBackupSchedule') return { virtualmachineid: one(`SELECT v.uuid FROM vm_instances v WHERE state='Running' ORDER BY (SELECT COUNT(*) FROM backup_schedules s WHERE s.vm_id=v.id) DESC, v.id LIMIT 1`) };
  if (command === 'findStoragePoolsForMigration') return { id: one(`SELECT x.uuid FROM volumes x JOIN vm_instances v ON v.id=x.vm_id WHERE v.state='Running' AND x.removed IS NULL ORDER BY x.id LIMIT 1`) };
  if (command === 'listTemplateOvfProperties') return { id: one('SELECT uuid FROM templates ORDER BY id LIMIT 1') };
  if (command === 'registerTemplate' || command === 'registerIso') return undefined; // creates an image: list-shaped, not a list
  // These read an endpoint outside Kiln (a vCenter not added yet, a KVM host Kiln does not manage),
  // so the demo zone has nothing to page them with; their listings are tested on vcsim and on the
  // third KVM host (discover-endpoint-networks, kvm-import-external.real, import-external-sim).
  if (command === 'discoverEndpointNetworks' || command === 'listVmsForImport') return undefined;
  // Lists scoped to a zone or a cluster by a required parameter (listBackupProviderOfferings,
  // listUnmanagedInstances, …) are paged within the demo zone's.
  const demo = t.engine.db.prepare('SELECT z.uuid AS zoneid, c.uuid AS clusterid FROM clusters c JOIN zones z ON z.id=c.zone_id ORDER BY c.id LIMIT 1').get() as Record<string, string>;
  const required = t.engine.registry.get(command)?.params.filter((p) => p.required) ?? [];
  const unknown = required.filter((p) => !(p.name in demo)).map((p) => p.name);
  if (unknown.length > 0) throw new Error(`${command} needs ${unknown.join(', ')}: say in requiredParams (test/helpers/list-commands.ts) what to call it with`);
  return Object.fromEntries(required.map((p) => [p.name, demo[p.name]!]));
}

/**
 * Lists that ask a host what it has, not Kiln's rows (CloudStack asks the hypervisor too): they
 * need the host's session, and connect it if Kiln has not yet. Every other list reads the
 * database and never connects a host (list-statements, kvm-list-no-connect.real).
 */
export const ASKS_THE_HOST: Record<string, string> = {
  listUnmanagedInstances: 'the VMs a host runs that Kiln does not manage',
};
