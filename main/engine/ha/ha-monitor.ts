/**
 * HA (R13) and state reconcile. Hosts report power changes on their own (libvirt events, the
 * simulator's hooks); a periodic pass also compares what the database says runs on each host
 * with what the host says. A VM that stops without Kiln asking (a crash, a guest-initiated
 * shutdown: the two cannot be told apart) is restarted when HA is on, else recorded as Stopped.
 * A host that misses `HOST_DOWN_AFTER` checks in a row is Down and its HA VMs restart elsewhere;
 * when it comes back, any domain it still runs that Kiln placed elsewhere is powered off, so a
 * VM never keeps running on two hosts.
 *
 * An HA restart that fails is tried again on later passes (for HA_RETRY_MS), backing off up to a
 * minute between tries, and at once when a host comes back or a copy is fenced. The usual reason
 * is a host cut off by its network, not dead: its qemu still holds the VM's disk, so a start
 * elsewhere is refused until the host comes back and its copy is fenced. The restarts HA still owes
 * are kept in the database (pending-restarts.ts), so a Kiln killed or closed meanwhile carries on
 * with them when it opens again.
 *
 * A host whose driver has the isolationFencing facet powers off its own HA VMs when it is cut off
 * from its peers and gateway (vSphere HA's isolation response). Kiln arms it with the host's peers
 * (the other hosts of its cluster) on each contact, and once the host has been out of contact for
 * the facet's timeoutMs plus FENCE_MARGIN_MS its HA VMs are restarted elsewhere, not before. Until
 * then they stay Running with the host Disconnected/Down, as CloudStack shows a VM on a host it
 * cannot reach: they may well still run. The start's disk-lock check still refuses a second copy.
 *
 * Where a restart may go is restart-scope.ts's rule, the one checkClusterHeadroom's what-if uses:
 * the other hosts of the VM's cluster, and for a VM bound to its Down host by a disk on that
 * host's local pool, nowhere; HA then says so in the VM's events and waits for the host.
 *
 * What the platform does on its own (initiator 'platform': vMotion, DRS, xapi HA) is followed,
 * never fought: a VM the platform moved is recorded on its new host, and one it powered off or
 * restarted is not restarted by Kiln.
 */
import type { Engine } from '../engine.js';
import type { HostEvent, HostSession } from '../../../drivers/types.js';
import { vmRef, type VmRow } from '../vm/rows.js';
import { vmResponse } from '../vm/vm-response.js';
import { settleFailedJob, vmJobResult } from '../vm/vm-job.js';
import { refreshHeadroom } from '../placement/headroom.js';
import { eachBounded, withDeadline } from '../hosts/fan-out.js';
import { followIfMovedAway, followMovedVm } from '../vm/moved-after-all.js';
import { backfillAdoptedUuids, isKnownStranger, isOwnInstance } from '../import/adopted-identity.js';
import { requestForVm } from '../placement/request.js';
import { restartScope } from '../placement/restart-scope.js';
import { PendingRestarts } from './pending-restarts.js';

const HOST_DOWN_AFTER = 3;
/** Added to the fencing facet's timeout: clock and scheduling slack between Kiln and the host. */
export const FENCE_MARGIN_MS = 5_000;
/** How often an armed host's watchdog is armed again (it may have been restarted with the host). */
const REARM_MS = 5 * 60_000;
/** How long failed HA restarts keep being retried, one attempt per pass. */
const HA_RETRY_MS = 10 * 60_000;
/** The wait before the n-th retry (n ≥ 2; the first comes on the next pass), doubling up to the cap. */
const retryDelayMs = (attempts: number) => (attempts <= 1 ? 0 : Math.min(60_000, 5_000 * 2 ** (attempts - 2)));

export class HaMonitor {
  private timer: NodeJS.Timeout | undefined;
  private misses = new Map<number, number>();
  /** VMs HA still has to restart (a restart under way, failed, or waiting for its host): the row version HA left, and until when to retry. */
  private readonly retries: PendingRestarts;
  /** Set when a pass saw a host come back or fenced a copy: what blocked a restart may be gone. */
  private freed = false;
  /** VMs with an HA restart job queued or running. */
  private readonly restarting = new Set<number>();
  private passing = false;
  private running = false;
  /**
   * Per host: when Kiln last reached it, when the first check since then began (contact lost), and
   * the fencing facet's timeout once its watchdog is armed (with which peers, when).
   */
  private readonly contact = new Map<number, { lastAt: number; lostAt?: number; fenceMs?: number; armedWith?: string; armedAt?: number; timer?: NodeJS.Timeout; downMarked?: boolean }>();
  private readonly listener = (message: { hostId: number; event: HostEvent }) => void this.onHostEvent(message.hostId, message.event);

  constructor(private readonly engine: Engine) {
    this.retries = new PendingRestarts(engine.db);
  }

  start(): void {
    this.running = true;
    this.engine.hosts.events.on('host-event', this.listener);
    const tick = () => {
      // A pass that was under way when stop() came must not schedule another.
      if (!this.running) return;
      this.timer = setTimeout(() => void this.pass().finally(tick), Math.max(1, this.engine.settings.int('ha.monitor.interval')) * 1000);
      this.timer.unref();
    };
    tick();
  }

  stop(): void {
    this.running = false;
    this.engine.hosts.events.off('host-event', this.listener);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const c of this.contact.values()) clearTimeout(c.timer);
  }

  /** Whether the host's isolation watchdog is armed by this Kiln (tests wait for it before cutting a host off). */
  fenceArmed(hostId: number): boolean {
    return this.contact.get(hostId)?.fenceMs !== undefined;
  }

  /** When the host's HA VMs are known to be off (its watchdog fenced them), if its driver fences and contact is lost. */
  fencedAt(hostId: number): number | undefined {
    const c = this.contact.get(hostId);
    // From the start of the first failed check, not the last success: the host may have reached its peers until then.
    return c?.fenceMs !== undefined && c.lostAt !== undefined ? c.lostAt + c.fenceMs + FENCE_MARGIN_MS : undefined;
  }

  /** Arms (or refreshes) the host's isolation watchdog with the other hosts of its cluster. */
  private async armFencing(host: { id: number; name: string; state: string }, session: HostSession): Promise<void> {
    const c = this.contact.get(host.id)!;
    const facet = session.isolationFencing;
    if (!facet) {
      c.fenceMs = undefined;
      return;
    }
    const peers = this.engine.db
      .prepare(`SELECT p.uuid AS ref, p.url FROM hosts p JOIN hosts h ON h.cluster_id=p.cluster_id WHERE h.id=? AND p.id<>h.id AND p.removed IS NULL ORDER BY p.id`)
      .all(host.id) as { ref: string; url: string }[];
    const key = JSON.stringify(peers);
    if (c.fenceMs !== undefined && c.armedWith === key && host.state === 'Up' && Date.now() - (c.armedAt ?? 0) < REARM_MS) return;
    try {
      await facet.arm(peers);
      Object.assign(c, { fenceMs: facet.timeoutMs, armedWith: key, armedAt: Date.now() });
    } catch (error) {
      // Not armed: the host is treated as one that cannot fence itself.
      c.fenceMs = undefined;
      this.engine.log.error(`isolation watchdog on ${host.name}`, error);
    }
  }

  /** Contact with the host is lost (a check began at STARTEDAT and failed): note it and wait for its fence. */
  private contactLost(host: { id: number; name: string }, startedAt: number): void {
    const c = this.contact.get(host.id);
    if (!c || c.lostAt !== undefined) return;
    c.lostAt = startedAt;
    const at = this.fencedAt(host.id);
    if (at === undefined || !this.running) return;
    c.timer = setTimeout(() => void this.afterFence(host.id), Math.max(0, at - Date.now()));
    c.timer.unref();
  }

  /** The out-of-contact host has powered off its HA VMs by now: it is Down and they restart elsewhere. */
  private async afterFence(hostId: number): Promise<void> {
    const at = this.fencedAt(hostId);
    if (at === undefined || Date.now() < at) return;
    const host = this.engine.db.prepare(`SELECT id, name, state FROM hosts WHERE id=? AND removed IS NULL AND cluster_id NOT IN (SELECT id FROM clusters WHERE managed_state<>'Managed')`).get(hostId) as { id: number; name: string; state: string } | undefined;
    // Alert: its host key changed; it may be running its VMs and waits for an admin.
    if (!host || host.state === 'Up' || host.state === 'Alert') return;
    // Once per lost contact: the host manager may set a Down host Disconnected again on a connection event.
    if (host.state !== 'Down' && !this.contact.get(hostId)!.downMarked) await this.hostDown(host, new Error('out of contact past its isolation fence'));
    for (const vm of this.runningOn(host.id)) {
      if (vm.ha_enabled === 1) await this.vmWentDown(vm, `host ${host.name} out of contact for ${Math.round((Date.now() - this.contact.get(hostId)!.lostAt!) / 1000)} s: isolated, it has powered off its HA VMs`);
    }
  }

  /** The VMs Kiln has Running on the host; with a ref, only that one (rows from before refs by internal name). */
  private runningOn(hostId: number, ref?: string): VmRow[] {
    const sql = `SELECT * FROM vm_instances WHERE host_id=? AND state='Running'${ref ? ' AND (ref=? OR (ref IS NULL AND internal_name=?))' : ''}`;
    return this.engine.db.prepare(sql).all(...(ref ? [hostId, ref, ref] : [hostId])) as VmRow[];
  }

  async onHostEvent(hostId: number, event: HostEvent): Promise<void> {
    if (event.kind !== 'power') return;
    if (event.initiator === 'platform') return this.followPlatform(hostId, event);
    if (event.state === 'Running' || event.reason === 'migrated') return;
    for (const vm of this.runningOn(hostId, event.vmRef)) await this.vmWentDown(vm, event.reason ?? 'stopped');
  }

  /**
   * The platform runs the VM on HOSTID now (it moved or restarted it there): record that, as a
   * host change of a Running VM, without a job; a platform power-off is recorded, not repaired.
   */
  private followPlatform(hostId: number, event: Extract<HostEvent, { kind: 'power' }>): void {
    const { db } = this.engine;
    // The source's "stopped, migrated" is not news: the destination's event says where the VM went.
    if (event.state !== 'Running' && event.reason === 'migrated') return;
    // Refs are unique per endpoint, and the platform moves VMs within its cluster (DRS, pool HA):
    // look among the VMs on hosts of this host's endpoint or cluster.
    const vm = db
      .prepare(
        `SELECT v.* FROM vm_instances v JOIN hosts h ON h.id=v.host_id, hosts here ON here.id=?
         WHERE (h.url=here.url OR h.cluster_id=here.cluster_id) AND (v.ref=? OR (v.ref IS NULL AND v.internal_name=?)) AND v.state='Running'`,
      )
      .get(hostId, event.vmRef, event.name) as VmRow | undefined;
    if (!vm) return;
    if (event.state === 'Running' && vm.host_id !== hostId) {
      const host = db.prepare('SELECT name, pod_id, cluster_id FROM hosts WHERE id=?').get(hostId) as { name: string; pod_id: number; cluster_id: number };
      db.prepare('UPDATE vm_instances SET host_id=?, last_host_id=?, pod_id=?, cluster_id=?, update_count=update_count+1 WHERE id=? AND update_count=?').run(hostId, hostId, host.pod_id, host.cluster_id, vm.id, vm.update_count);
      this.engine.events.record({ type: 'VM.MIGRATE', description: `VM ${vm.display_name} (${vm.uuid}) was moved by the hypervisor platform to host ${host.name} (${event.reason ?? 'moved'}); Kiln follows`, accountId: vm.account_id, domainId: vm.domain_id, resourceType: 'VirtualMachine', resourceUuid: vm.uuid });
    } else if (event.state === 'Stopped') {
      this.engine.vms.transition(vm, 'Stopped', { hostId: null, note: `powered off by the hypervisor platform (${event.reason ?? 'stopped'}); not restarted by Kiln's HA` });
    }
  }

  /** One reconcile pass over every host; returns when it is done (tests call it directly). */
  async pass(): Promise<void> {
    if (this.passing) return;
    this.passing = true;
    try {
      const hosts = this.engine.db.prepare(`SELECT id, name, state FROM hosts WHERE removed IS NULL AND resource_state='Enabled' AND cluster_id NOT IN (SELECT id FROM clusters WHERE managed_state<>'Managed')`).all() as { id: number; name: string; state: string }[];
      // Hosts are checked side by side, each under its own deadline: one dead host must not hold
      // back what the others report. Each check re-reads a VM's row before acting on it, so checks
      // that interleave never act on what another one already changed.
      const { settings } = this.engine;
      await eachBounded(hosts, Math.max(1, settings.int('host.check.concurrency')), (host) =>
        this.checkHost(host, Math.max(1, settings.int('host.check.timeout')) * 1000).catch((error: unknown) => this.engine.log.error(`HA check of host ${host.name}`, error)),
      );
      this.retryRestarts(this.freed);
      this.freed = false;
      refreshHeadroom(this.engine);
    } finally {
      this.passing = false;
    }
  }

  private async checkHost(host: { id: number; name: string; state: string }, timeoutMs: number): Promise<void> {
    const { engine } = this;
    // Read what Kiln believes before asking the host, and act only on VMs whose row did not change
    // while the host answered: an HA restart or a user's start may be under way at the same time.
    const believed = new Map(this.runningOn(host.id).map((vm) => [vm.id, vm.update_count]));
    const elsewhere = new Map((engine.db.prepare(`SELECT id, uuid, internal_name, ref, adopted, update_count, state, host_id, last_host_id FROM vm_instances WHERE (host_id IS NULL OR host_id<>?) AND state IN ('Running','Stopped','Created','Error','Destroyed','Expunged')`).all(host.id) as { id: number; uuid: string; internal_name: string; ref: string | null; adopted: number; update_count: number; state: string; host_id: number | null; last_host_id: number | null }[]).map((v) => [vmRef(v), v]));
    let instances;
    const checkStartedAt = Date.now();
    if (!this.contact.has(host.id)) this.contact.set(host.id, { lastAt: checkStartedAt });
    // The watchdog is armed while the host lists its VMs, not after: on a first contact it is an
    // upload and a start on the host, which a pass across many hosts otherwise waits for in turn.
    let arming: Promise<void> | undefined;
    try {
      instances = await withDeadline((async () => {
        const connected = await engine.hosts.session(host.id);
        arming = this.armFencing(host, connected);
        // The power states alone where the driver can list them cheaper than every VM's details.
        return connected.listPowerStates ? connected.listPowerStates() : connected.listInstances();
      })(), timeoutMs, `host ${host.name}`);
      const c = this.contact.get(host.id)!;
      Object.assign(c, { lastAt: Date.now(), lostAt: undefined, downMarked: false });
      clearTimeout(c.timer);
      await arming;
    } catch (error) {
      // An arm still under way is not waited for here (its exec has its own timeout, and a host
      // that stopped answering would hold this check, and the hosts queued behind it, that long).
      await engine.hosts.drop(host.id);
      // A host whose SSH key changed is not known to be down: it may be running its VMs. Restarting
      // them elsewhere could run them twice, so it waits in Alert for an admin (acceptHostKey).
      // Read again: the fence timer (afterFence) may have marked it Down while the check waited.
      const state = (engine.db.prepare('SELECT state FROM hosts WHERE id=?').get(host.id) as { state: string }).state;
      if (state === 'Alert') return;
      // A host that did not answer is not reachable now: shown so at once, not only after the
      // misses that declare it Down. The dropped session was the only one that could report it
      // (its keepalives give up about when the check's deadline does, and whichever came second
      // was lost), so without this an Up host stayed Up until a reconnect failed, seconds later.
      if (state === 'Up') engine.hosts.setState(host.id, 'Disconnected', error instanceof Error ? error.message : String(error));
      const misses = (this.misses.get(host.id) ?? 0) + 1;
      this.misses.set(host.id, misses);
      this.contactLost(host, checkStartedAt);
      if (misses >= HOST_DOWN_AFTER && state !== 'Down' && !this.contact.get(host.id)?.downMarked) await this.hostDown(host, error);
      await this.afterFence(host.id);
      return;
    }
    this.misses.delete(host.id);
    if (host.state !== 'Up') {
      engine.hosts.setState(host.id, 'Up');
      this.freed = true;
    }
    // An adopted VM imported before its import recorded its instance's uuid gets it now (adopted-identity.ts).
    backfillAdoptedUuids(engine.db, host.id, instances);
    // Matched by ref: names need not be unique on every hypervisor (on KVM the name is the ref).
    const power = new Map(instances.map((i) => [i.ref, i.powerState]));
    const unchanged = (id: number, count: number) => engine.vms.get(id).update_count === count;
    const onHost = new Set(engine.db.prepare('SELECT COALESCE(ref, internal_name) FROM vm_instances WHERE host_id=? AND removed IS NULL').pluck().all(host.id) as string[]);
    for (const vm of this.runningOn(host.id)) {
      if (believed.get(vm.id) !== vm.update_count) continue;
      if (power.get(vmRef(vm)) === 'Running') continue;
      // The list may lag behind the host (vSphere's and XenServer's come from an event-fed cache:
      // a VM Kiln has just started can still be listed powered off on a loaded machine), so the VM
      // itself is asked before Kiln takes it for down; a host that does not answer decides nothing.
      if (await this.stillRunning(host.id, vm)) continue;
      // Gone from its host: a move reported failed may have completed after all (moved-after-all.ts).
      if (!power.has(vmRef(vm)) && (await followIfMovedAway(engine, vm).catch(() => false))) continue;
      await this.vmWentDown(vm, power.has(vmRef(vm)) ? 'found stopped' : 'missing from host');
    }
    for (const instance of instances) {
      const vm = elsewhere.get(instance.ref);
      if (!vm) {
        // Unknown by ref (not one of the VMs Kiln has on this host either): maybe a Kiln VM whose
        // move here was reported failed but completed after all.
        if (!onHost.has(instance.ref)) await followMovedVm(engine, host, instance).catch((error: unknown) => engine.log.error(`following ${instance.name} on ${host.name}`, error));
        continue;
      }
      if (!unchanged(vm.id, vm.update_count)) continue;
      if (vm.state === 'Expunged') {
        // A copy an expunge could not reach (its host was cut off) outlived the VM. Only a domain
        // with the VM's own UUID is Kiln's (or the one its import adopted: adopted-identity.ts); a
        // namesake may belong to another Kiln sharing the host, or be defined there since.
        if (instance.uuid !== undefined && isOwnInstance(engine.db, vm, instance)) await this.removeExpungedCopy(host, instance.ref, vm.uuid);
        continue;
      }
      // A namesake known not to be the VM's (another uuid) is neither removed nor powered off.
      if (isKnownStranger(engine.db, vm, instance)) continue;
      if (instance.powerState !== 'Running') {
        // A shut-off copy of a VM that now lives on another host (left while this host was away) goes.
        // A Destroyed VM has no home: a definition a destroy could not remove (host unreachable) goes too.
        const home = vm.state === 'Running' ? vm.host_id : vm.last_host_id;
        if (vm.state === 'Destroyed' || (home !== null && home !== host.id)) await engine.vms.forgetStaleDefinition(engine.vms.get(vm.id), host.id);
        continue;
      }
      // Fence: a domain running here that Kiln has placed elsewhere (or stopped) must not run twice.
      engine.log.warn(`fencing ${instance.name} on ${host.name}: Kiln runs it on another host or has it stopped`);
      try {
        await (await engine.hosts.session(host.id)).stop(instance.ref, { forced: true });
        const row = engine.vms.get(vm.id);
        engine.events.record({ type: 'HA.FENCE', level: 'WARN', description: `VM ${row.display_name} (${row.uuid}) was still running on ${host.name}; powered off there`, accountId: row.account_id, resourceType: 'VirtualMachine', resourceUuid: row.uuid });
        this.freed = true;
      } catch (error) {
        engine.log.error(`fence ${instance.name} on ${host.name}`, error);
      }
    }
  }

  private async removeExpungedCopy(host: { id: number; name: string }, name: string, uuid: string): Promise<void> {
    const { engine } = this;
    try {
      // Its disks went with the expunge; only the definition (and a qemu still running it) is left.
      await (await engine.hosts.session(host.id)).destroy(name, { removeDisks: [] });
      engine.events.record({ type: 'HA.FENCE', level: 'WARN', description: `domain ${name} of expunged VM ${uuid} was still defined on ${host.name}; powered off and undefined there`, resourceType: 'VirtualMachine', resourceUuid: uuid });
    } catch (error) {
      engine.log.error(`remove ${name} of expunged VM ${uuid} on ${host.name}`, error);
    }
  }

  private async hostDown(host: { id: number; name: string }, error: unknown): Promise<void> {
    const { engine } = this;
    engine.hosts.setState(host.id, 'Down', error instanceof Error ? error.message : String(error));
    const c = this.contact.get(host.id);
    if (c) c.downMarked = true;
    const fencedAt = this.fencedAt(host.id);
    if (fencedAt !== undefined) {
      // Its VMs may still run there until its watchdog powers the HA ones off: they stay Running (afterFence).
      engine.events.record({ type: 'HOST.DOWN', level: 'ERROR', description: `host ${host.name} is down (out of contact); it powers off its HA VMs itself when isolated, so they restart elsewhere from ${new Date(fencedAt).toISOString()}` });
      return;
    }
    engine.events.record({ type: 'HOST.DOWN', level: 'ERROR', description: `host ${host.name} is down after ${HOST_DOWN_AFTER} failed checks` });
    for (const vm of this.runningOn(host.id)) await this.vmWentDown(vm, `host ${host.name} down`);
  }

  /** The VM is not running any more and Kiln did not stop it. */
  /** Whether VM's host says it still runs (HostSession.powerState), or cannot say now: not to be taken for down on its list alone. */
  private async stillRunning(hostId: number, vm: VmRow): Promise<boolean> {
    try {
      return (await (await this.engine.hosts.session(hostId)).powerState(vmRef(vm))) === 'Running';
    } catch {
      return true;
    }
  }

  private async vmWentDown(vm: VmRow, reason: string): Promise<void> {
    const { engine } = this;
    const hostId = vm.host_id;
    const current = engine.vms.get(vm.id);
    if (current.state !== 'Running' || current.host_id !== hostId) return; // Kiln is already moving it
    const stopped = engine.vms.transition(current, 'Stopped', { hostId: null, note: `stopped outside Kiln: ${reason}` });
    engine.db.prepare('UPDATE vm_instances SET last_host_id=? WHERE id=?').run(hostId, vm.id);
    if (stopped.ha_enabled !== 1) return;
    const bound = this.boundTo(vm, hostId);
    this.engine.events.record({ type: 'HA.RESTART', level: 'WARN', description: `VM ${vm.display_name} (${vm.uuid}) went down (${reason}); ${bound ? `HA does not restart it on another host: ${bound}. It restarts when its host is back` : 'HA is restarting it'}`, accountId: vm.account_id, resourceType: 'VirtualMachine', resourceUuid: vm.uuid });
    if (bound) this.engine.log.warn(`HA: VM ${vm.display_name} waits for its host: ${bound}`);
    // A new outage: what an earlier one left (its attempts, its window) does not carry over.
    this.retries.delete(vm.id);
    this.restart(vm, reason, Date.now() + HA_RETRY_MS, hostId);
  }

  /**
   * Where an HA restart of VM, which went down on FAILEDHOSTID, may go (restart-scope.ts, the rule
   * checkClusterHeadroom's what-if uses): a host still Up (a crash, a shutdown from the guest) is
   * preferred as by any start; a host that is not Up leaves the VM its cluster's other hosts, or,
   * with a disk on that host's local pool, nowhere (the reason is returned).
   */
  private restartPlacement(vm: VmRow, failedHostId: number | null): { bound: string } | { bound?: undefined; placement: { clusterId?: number } } {
    const failed = failedHostId === null ? undefined : (this.engine.db.prepare('SELECT id, state, cluster_id FROM hosts WHERE id=?').get(failedHostId) as { id: number; state: string; cluster_id: number } | undefined);
    if (!failed || failed.state === 'Up') return { placement: {} };
    const scope = restartScope(requestForVm(this.engine.db, vm), failed);
    return scope.bound !== undefined ? { bound: scope.bound } : { placement: { clusterId: scope.request.clusterId } };
  }

  private boundTo(vm: VmRow, failedHostId: number | null): string | undefined {
    return this.restartPlacement(vm, failedHostId).bound;
  }

  /** Tries again the failed HA restarts of VMs nobody has touched since (still Stopped, same row version). */
  private retryRestarts(now: boolean): void {
    for (const [id, retry] of this.retries.all()) {
      const vm = this.engine.vms.get(id);
      // HA's own start, cut short when the last Kiln stopped and settled at this one's start: still owed.
      if (vm.state === 'Stopped' && vm.update_count !== retry.updateCount && this.retries.interruptedRestart(vm.uuid, this.engine.jobs.owner)) {
        retry.updateCount = vm.update_count;
        this.retries.set(id, retry);
      }
      // Someone acted on it (a start, a destroy, a recover), its HA was turned off, or the window is over.
      if (vm.state !== 'Stopped' || vm.update_count !== retry.updateCount || vm.ha_enabled !== 1 || Date.now() > retry.until) {
        this.retries.delete(id);
        continue;
      }
      if (!this.restarting.has(id) && (now || Date.now() >= retry.nextAt)) this.restart(vm, retry.reason, retry.until, retry.failedHostId);
    }
  }

  private restart(vm: VmRow, reason: string, until: number, failedHostId: number | null): void {
    const { engine } = this;
    const where = this.restartPlacement(engine.vms.get(vm.id), failedHostId);
    if (where.bound !== undefined) {
      // Bound to a host that is not Up: no start is tried elsewhere (vmWentDown said why); it waits
      // for its host, however long that takes, since no other host can ever run it.
      const current = engine.vms.get(vm.id);
      const waiting = this.retries.get(vm.id);
      // Confirmed on every pass: written only when something changed.
      if (!waiting || waiting.bound !== where.bound || waiting.updateCount !== current.update_count || waiting.failedHostId !== failedHostId) {
        this.retries.set(vm.id, { updateCount: current.update_count, until: Infinity, reason, attempts: 0, nextAt: Date.now(), failedHostId, bound: where.bound });
      }
      return;
    }
    // Owed from now until it runs: recorded before the job, which a Kiln stopped meanwhile never runs.
    const pending = this.retries.get(vm.id);
    if (!pending) this.retries.set(vm.id, { updateCount: engine.vms.get(vm.id).update_count, until, reason, attempts: 0, nextAt: Date.now(), failedHostId });
    const system = engine.accounts.localAdmin();
    this.restarting.add(vm.id);
    engine.jobs.submitInternal(system, 'HA.restart', {
      instanceType: 'VirtualMachine',
      instanceId: vm.uuid,
      queueKey: `vm:${vm.id}`,
      run: async (job) => {
        const again = engine.vms.get(vm.id);
        if (again.state !== 'Stopped') {
          this.restarting.delete(vm.id);
          this.retries.delete(vm.id);
          return vmResponse(engine, again, system); // someone else acted first
        }
        // The planner only offers Up hosts, so a Down host's VMs land elsewhere; a crash prefers the same host.
        engine.vms.lastPlacement.delete(vm.id);
        try {
          const started = await engine.vms.start(system, again, where.placement, job.uuid);
          this.retries.delete(vm.id);
          return vmJobResult(engine, started, system);
        } catch (error) {
          // A restart with nowhere to go says so in the VM's events, as a user's failed job does.
          settleFailedJob(engine, system, vm.id, job.uuid, error);
          const after = engine.vms.get(vm.id);
          const attempts = (this.retries.get(vm.id)?.attempts ?? 0) + 1;
          if (after.state === 'Stopped') this.retries.set(vm.id, { updateCount: after.update_count, until, reason, attempts, nextAt: Date.now() + retryDelayMs(attempts), failedHostId });
          throw error;
        } finally {
          this.restarting.delete(vm.id);
        }
      },
    });
  }
}
