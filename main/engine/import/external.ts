/**
 * VMs on a host Kiln does not manage (CloudStack 4.19's listVmsForImport and importVm with
 * importsource=external). The host is reached with the credentials of the call, which are never
 * stored; its trust anchor (KVM: the SSH host key) is pinned on first use in
 * external_import_hosts, and a later call to a host that presents another one is refused (534)
 * unless the admin confirms the new one with hostkeyfingerprint.
 *
 * The import runs importUnmanagedInstance's rules (planFor) on the VM as the host reports it;
 * the Kiln host that receives the copy, standing in for "its host", is the placement planner's
 * choice in the cluster given (hostid: that host, judged alone), as a deploy's host is. The job copies each disk
 * onto that host's storage pool (the driver's ExternalImportSource.exportDisk makes a
 * self-contained copy on the source and StorageFacet.stageImage checks it on arrival), then
 * writes the rows: an ordinary stopped Kiln VM. The source VM is only read. A failed copy removes
 * what it put on either host and writes nothing.
 */
import { randomUUID } from 'node:crypto';
import type { ExternalImportSource, HypervisorDriver, InstanceInfo, TrustAnchor } from '../../../drivers/types.js';
import { DriverError } from '../../../drivers/types.js';
import type { Engine } from '../engine.js';
import { now } from '../db/database.js';
import { ApiError, toApiError } from '../registry/errors.js';
import type { Args } from '../registry/params.js';
import type { AsyncWork, Caller } from '../registry/types.js';
import { byUuid } from '../lookup.js';
import type { HostRow } from '../hosts/host-manager.js';
import { vmJobResult } from '../vm/vm-job.js';
import { planFor, writeImported, type ImportPlan } from './import-vm.js';
import { diskTagNeeds } from '../storage/import-tags.js';
import { syncClusterPools } from '../storage/pool-sync.js';
import { explainShort } from '../placement/planner.js';
import { offeringGpu, offeringTags, osCategoryOf } from '../placement/request.js';
import { checkHonouredDetails, importFacet, knownMacs, unmanagedView, type ClusterRow, type CopySource, type UnmanagedVm } from './unmanaged.js';

/** A host name or an IP address (v4, or v6 without brackets); nothing a URL or a shell could read as more. */
const HOST_NAME = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|[0-9A-Fa-f:]{2,39})$/;

/** Where and how to reach the external host, from the call's parameters. */
export interface ExternalHost {
  driver: HypervisorDriver;
  /** The canonical URL (ssh://host:port), the key of its pinned trust. */
  url: string;
  /** The host as the caller named it, for messages. */
  name: string;
  username: string;
  password?: string;
  privateKey?: string;
  /** The fingerprint the admin confirmed (hostkeyfingerprint), replacing a pinned one. */
  confirmed?: string;
}

export function externalHost(engine: Engine, args: Args): ExternalHost {
  const hypervisor = args.str('hypervisor') ?? 'KVM';
  const driver = engine.hosts.drivers().find((d) => d.hypervisor.toLowerCase() === hypervisor.toLowerCase());
  if (!driver) throw ApiError.param(`hypervisor: Kiln has no ${hypervisor} driver`);
  if (!driver.externalImport) throw ApiError.param(`hypervisor: Kiln cannot list or copy ${driver.hypervisor} VMs from a host it does not manage`);
  const name = args.str('host');
  if (!name) throw ApiError.param('host: give the host name or IP address of the host to import from');
  if (!HOST_NAME.test(name)) throw ApiError.param(`host: ${JSON.stringify(name)} is not a host name or an IP address`);
  const password = args.str('password');
  const privateKey = args.str('privatekey');
  if (!password && !privateKey) throw ApiError.param('password: give the password (or privatekey) of the host\'s user');
  const port = args.int('port') ?? 22;
  if (port < 1 || port > 65535) throw ApiError.param(`port: ${port} is not a TCP port`);
  const confirmed = args.str('hostkeyfingerprint');
  if (confirmed !== undefined && !/^SHA256:[A-Za-z0-9+/]{43}$/.test(confirmed)) throw ApiError.param('hostkeyfingerprint: give the host key fingerprint as ssh-keygen -lf prints it (SHA256:…)');
  const bracketed = name.includes(':') ? `[${name}]` : name;
  return { driver, url: `ssh://${bracketed}:${port}`, name, username: args.str('username') ?? 'root', password, privateKey, confirmed };
}

function pinnedTrust(engine: Engine, url: string): TrustAnchor | undefined {
  const row = engine.db.prepare('SELECT trust_kind, trust_fingerprint FROM external_import_hosts WHERE url=?').get(url) as { trust_kind: string; trust_fingerprint: string } | undefined;
  return row ? ({ kind: row.trust_kind, fingerprint: row.trust_fingerprint } as TrustAnchor) : undefined;
}

/** Opens the host: pinned trust (or the admin's confirmed one) enforced, first contact pinned. Errors name the host parameter. */
export async function openExternal(engine: Engine, host: ExternalHost): Promise<ExternalImportSource> {
  const pinned = host.confirmed ? ({ kind: host.driver.connectionForm.trust, fingerprint: host.confirmed } as TrustAnchor) : pinnedTrust(engine, host.url);
  let source: ExternalImportSource;
  try {
    source = await host.driver.externalImport!.open({ hostId: `external:${host.url}`, url: host.url, username: host.username, password: host.password, privateKey: host.privateKey, pinnedTrust: pinned });
  } catch (error) {
    const err = toApiError(error);
    if (!(error instanceof DriverError && error.category === 'host-key-changed')) throw new ApiError(err.errorCode, `host: ${host.name}: ${err.message}`);
    // The key the host has now beside the pinned one, for a client to show the admin before they
    // confirm it with hostkeyfingerprint (the renderer's import wizard does).
    const presented = error.details.presented?.fingerprint;
    throw new ApiError(err.errorCode, `host: ${host.name}: ${err.message} (pass hostkeyfingerprint with the new key to trust it)`, undefined, {
      hostkeychanged: true, ...(pinned ? { pinnedhostkeyfingerprint: pinned.fingerprint } : {}), ...(presented ? { presentedhostkeyfingerprint: presented } : {}),
    });
  }
  if (source.trust) {
    // Written on first contact and when the admin confirmed a new key, never otherwise: a call that
    // only used the pin changes nothing (last_used is when the pin was last set).
    const at = now();
    engine.db
      .prepare(`INSERT INTO external_import_hosts (url, trust_kind, trust_fingerprint, created, last_used) VALUES (?,?,?,?,?)
                ON CONFLICT(url) DO UPDATE SET trust_kind=excluded.trust_kind, trust_fingerprint=excluded.trust_fingerprint, last_used=excluded.last_used
                WHERE trust_kind<>excluded.trust_kind OR trust_fingerprint<>excluded.trust_fingerprint`)
      .run(host.url, source.trust.kind, source.trust.fingerprint, at, at);
  }
  return source;
}

/** Runs WORK with the host open, closing it afterwards. */
async function withSource<T>(engine: Engine, host: ExternalHost, work: (source: ExternalImportSource) => Promise<T>): Promise<T> {
  const source = await openExternal(engine, host);
  try {
    return await work(source);
  } finally {
    await source.close().catch(() => undefined);
  }
}

/** How a VM from HOST is copied: where from (for messages), and what its driver defines the copy with. */
const copyOf = (host: ExternalHost): CopySource => ({ from: host.name, bus: host.driver.defaults.diskBus, detailOptions: host.driver.detailOptions });

/** A VM on the external host, for the rules: no Kiln host yet, no pools (its disks are copied). */
function asUnmanaged(info: InstanceInfo, target?: UnmanagedVm['host']): UnmanagedVm {
  return { host: target ?? { id: 0, uuid: '', name: '', cluster_id: 0, pod_id: 0, zone_id: 0, host_tags: '' }, info, pools: new Set() };
}

/** listVmsForImport: the host's VMs (templates aside) as listUnmanagedInstances shows them, each with importable / why not. */
export async function listExternal(engine: Engine, args: Args): Promise<Record<string, unknown>[]> {
  byUuid<{ id: number }>(engine.db, 'zone', args.uuid('zoneid')!, 'zoneid');
  const host = externalHost(engine, args);
  const instances = await withSource(engine, host, (source) => source.list());
  const macs = knownMacs(engine.db);
  const name = args.str('name');
  return instances
    .filter((info) => !info.isTemplate && (name === undefined || info.name === name))
    .map((info) => unmanagedView(engine.db, undefined, asUnmanaged(info), macs, copyOf(host)));
}

/**
 * The Kiln host that receives the copy, chosen by the placement planner as a deploy's host is: a
 * host of CLUSTER (only HOSTID when given) that is Up, has room for the VM's size, the offering's
 * host tags and GPU, suits the owner's affinity, and whose default pool, where the copies land,
 * has every disk's storage tags (need-pool.ts). None fits: 533 with each host's verdict.
 */
function targetHost(engine: Engine, cluster: ClusterRow, hostUuid: string | undefined, plan: ImportPlan, from: string): HostRow {
  const db = engine.db;
  const given = hostUuid ? byUuid<HostRow>(db, 'host', hostUuid, 'hostid') : undefined;
  if (given && given.cluster_id !== cluster.id) throw ApiError.param(`hostid: host ${given.name} is not in cluster ${cluster.name}`);
  const outcome = engine.planner.plan({
    zoneId: cluster.zone_id, clusterId: cluster.id, hostId: given?.id, ...plan.resources,
    hostTags: offeringTags(plan.offering), ...offeringGpu(plan.offering), accountId: plan.owner.accountId, osCategoryId: osCategoryOf(db, plan.osTypeId),
    storageNeeds: diskTagNeeds(db, plan).map((w) => ({ volume: `disk ${w.disk.id}`, tags: w.need, offering: w.offering, onDefaultPool: true })),
  });
  if (!outcome.host) throw ApiError.capacity(`Unable to import VM ${plan.vm.info.name} from ${from} into cluster ${cluster.name}: ${explainShort(outcome)}`, { placement: outcome.considered });
  return db.prepare('SELECT * FROM hosts WHERE id=?').get(outcome.host.id) as HostRow;
}

/** importVm's advice when a pool lacks a storage tag: it copies or keeps disks where they are, it moves none between pools. */
export const NO_DISK_MOVE = 'importVm moves no disk between pools: tag that pool with updateStoragePool, or choose an offering without the tag';

/**
 * importVm importsource=external: every rule checked before the job (the host is asked once for
 * the VM, the Kiln host once for a domain of the same name); the job copies and writes.
 */
export async function importExternal(engine: Engine, caller: Caller, args: Args): Promise<AsyncWork> {
  const db = engine.db;
  const zone = byUuid<{ id: number; name: string }>(db, 'zone', args.uuid('zoneid')!, 'zoneid');
  if (args.uuid('projectid')) throw ApiError.param('projectid: Kiln has no projects; import the VM into an account (account and domainid)');
  const clusterUuid = args.uuid('clusterid');
  if (!clusterUuid) throw ApiError.param('clusterid: importsource=external needs the cluster whose host receives the copy');
  const cluster = byUuid<ClusterRow>(db, 'cluster', clusterUuid, 'clusterid');
  if (cluster.zone_id !== zone.id) throw ApiError.param(`clusterid: cluster ${cluster.name} is not in zone ${zone.name}`);
  if (args.str('diskpath')) throw ApiError.param('diskpath: importsource=external copies the disks of the VM named by name; diskpath is for local and shared');
  if (args.str('tmppath')) throw ApiError.param('tmppath: Kiln makes its scratch copy in a fresh directory of the host\'s TMPDIR (/var/tmp); no path can be named');
  const host = externalHost(engine, args);
  if (engine.hosts.knownDriver(cluster.hypervisor) !== host.driver) throw ApiError.param(`hypervisor: cluster ${cluster.name} runs ${cluster.hypervisor}; a ${host.driver.hypervisor} VM is copied only onto a ${host.driver.hypervisor} cluster`);
  const name = args.str('name')!;
  const found = await withSource(engine, host, async (source) => (await source.list()).filter((i) => i.name === name && !i.isTemplate));
  if (found.length === 0) throw ApiError.param(`name: host ${host.name} has no VM named ${name}`);
  checkHonouredDetails(host.driver.detailOptions, args.details('details') ?? {});
  const rules = planFor(engine, caller, args, cluster, asUnmanaged(found[0]!), copyOf(host));
  // R48: the copies land on the receiving host's default pool (stageImage); its tags are read fresh.
  if (diskTagNeeds(engine.db, rules).length) await syncClusterPools(engine, cluster.id);
  const target = targetHost(engine, cluster, args.uuid('hostid'), rules, host.name);
  const plan: ImportPlan = { ...rules, vm: asUnmanaged(rules.vm.info, target) };
  const session = await engine.hosts.session(target.id);
  const facet = importFacet(session, cluster);
  if (!session.storage) throw ApiError.param(`clusterid: the hosts of cluster ${cluster.name} cannot take disk copies`);
  const onTarget = (await facet.list()).find((i) => i.name === plan.vm.info.name);
  if (onTarget) throw ApiError.param(`name: host ${target.name} already has a VM named ${plan.vm.info.name}; rename the VM on ${host.name} first`);
  return externalWork(engine, caller, plan, host, target);
}

function externalWork(engine: Engine, caller: Caller, plan: ImportPlan, host: ExternalHost, target: HostRow): AsyncWork {
  const uuid = randomUUID();
  return {
    instanceType: 'VirtualMachine',
    instanceId: uuid,
    // One copy of an external VM at a time.
    queueKey: `import-external:${host.url}:${plan.vm.info.ref}`,
    run: async (job) => {
      const session = await engine.hosts.session(target.id);
      const staged: string[] = [];
      // Each copy's ref as the driver gave it (KVM: the disk's target, which its define keeps).
      const refs: (string | undefined)[] = [];
      try {
        await withSource(engine, host, async (source) => {
          for (const [index, disk] of plan.disks.entries()) {
            job.progress((index / plan.disks.length) * 100, `copying disk ${disk.id} (${index + 1}/${plan.disks.length}) from ${host.name} to host ${target.name}`);
            const name = engine.hosts.volumeName(target.hypervisor, `${uuid}-${disk.id}`);
            const exported = await source.exportDisk(plan.vm.info.ref, disk.id, name);
            try {
              staged.push(name);
              refs.push(exported.ref);
              await session.storage!.stageImage(exported);
            } finally {
              await exported.remove().catch(() => undefined);
            }
          }
        });
        const vmId = writeImported(engine, caller, plan, { ref: plan.vm.info.ref, disks: plan.disks.map((d, i) => ({ id: d.id, name: staged[i]!, ...(refs[i] !== undefined ? { ref: refs[i] } : {}) })) }, uuid, job.uuid, host.name);
        return vmJobResult(engine, engine.vms.get(vmId), caller);
      } catch (error) {
        // Nothing half-copied stays on the Kiln host; the source only ever had its scratch copy.
        if (staged.length) await session.deleteDisks(staged).catch(() => undefined);
        throw error;
      }
    },
  };
}
