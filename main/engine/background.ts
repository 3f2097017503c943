/**
 * Work the engine does on its own schedule: every host's connect at start, the expunge sweeper
 * (expunge.interval) and the reconcile pass that settles VMs a dead process left half-way
 * (Starting, Stopping, …) by asking their host what is really there.
 */
import type { Engine } from './engine.js';
import { vmRef, type VmRow } from './vm/rows.js';
import type { VmState } from './vm/states.js';
import { HaMonitor } from './ha/ha-monitor.js';
import { runHostCleanups } from './vm/host-cleanups.js';
import { runCopyRemovals } from './images/host-copies.js';
import { vmJobResult } from './vm/vm-job.js';
import { refreshOpenPools } from './storage/pool-sync.js';
import type { PowerState } from '../../drivers/types.js';

const NOTE = 'settled after restart: the job that was moving it had been interrupted';

export class BackgroundTasks {
  private timers: NodeJS.Timeout[] = [];
  private sweeping = false;
  private stopped = false;
  readonly ha: HaMonitor;

  constructor(private readonly engine: Engine) {
    this.ha = new HaMonitor(engine);
  }

  start(): void {
    this.stopped = false;
    // Every host's session opens now, side by side (host.check.concurrency at a time), so that no
    // API call after a start connects a host in-line: lists read the rows, other calls find the
    // session open (or the host already marked unreachable).
    void this.engine.hosts.connectAll(Math.max(1, this.engine.settings.int('host.check.concurrency')));
    void this.reconcileInterrupted();
    this.ha.start();
    this.schedule('expunge.interval', () => this.sweep());
    this.schedule('gpu.stats.interval', () => this.refreshGpuCapacity());
    // What listStoragePools lists between refreshes: the pools of every host with an open session.
    this.schedule('storage.stats.interval', () => refreshOpenPools(this.engine));
  }

  /**
   * R71 on the sync interval: every connected host's GPU capacity is read again, so a change made
   * outside Kiln (another client of the pool, a VM started by the platform) reaches placement and
   * listHosts without waiting for a start or stop here. Hosts without a GPU facet are skipped.
   */
  async refreshGpuCapacity(): Promise<void> {
    const ids = this.engine.db.prepare(`SELECT DISTINCT host_id FROM host_gpus g JOIN hosts h ON h.id=g.host_id WHERE h.removed IS NULL AND h.state='Up'`).pluck().all() as number[];
    for (const id of ids) await this.engine.hosts.refreshGpus(id);
  }

  stop(): void {
    this.stopped = true;
    this.ha.stop();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers = [];
  }

  /** Re-reads the interval after every run, so a changed setting takes effect without a restart. */
  private schedule(setting: string, task: () => Promise<unknown>): void {
    const run = () => {
      const seconds = Math.max(1, this.engine.settings.int(setting));
      const timer = setTimeout(() => {
        void task().finally(() => {
          this.timers = this.timers.filter((t) => t !== timer);
          if (!this.stopped) run();
        });
      }, seconds * 1000);
      timer.unref();
      this.timers.push(timer);
    };
    run();
  }

  async sweep(): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    try {
      // Hosts that answer again first do what they owe, then the destroyed VMs that are due go.
      await runHostCleanups(this.engine);
      // Copies of deleted images a host still holds (it did not answer, or a VM used them then).
      await runCopyRemovals(this.engine);
      return await this.engine.vms.sweepExpunge();
    } finally {
      this.sweeping = false;
    }
  }

  /**
   * VMs left in a transient state by a previous process are settled from the host's view: the
   * host is asked what exists, an interrupted destroy or expunge is finished there, and a VM whose
   * host does not answer settles where HA (fencing, stale-definition removal) or host_cleanups
   * still covers its definition.
   */
  async reconcileInterrupted(): Promise<void> {
    const { db, log } = this.engine;
    const stuck = db.prepare(`SELECT * FROM vm_instances WHERE state IN ('Creating','Starting','Stopping','Migrating','Destroying','Expunging')`).all() as VmRow[];
    for (const vm of stuck) {
      const note = this.interruptedNote(vm);
      try {
        if (await this.reattach(vm)) continue;
        const unanswered = await this.settle(vm, note);
        this.engine.jobs.settledAfterRestart(vm.uuid, this.settledWords(vm, unanswered));
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        log.warn(`reconcile ${vm.uuid}: ${message}`);
        // Still nothing may stay transient: Error can be started, destroyed and expunged.
        const now = this.engine.vms.get(vm.id);
        if (now.state === vm.state) this.engine.vms.transition(now, 'Error', { note: `${note}; settling it failed: ${message}` });
        this.engine.jobs.settledAfterRestart(vm.uuid, `After the restart Kiln could not settle the VM (${message}): it is ${this.engine.vms.get(vm.id).state}.`);
      }
    }
    // Jobs left waiting on a task whose VM needed no settling (or whose task could not be reattached) end as failed.
    this.engine.jobs.recoverOrphans(true);
    await runHostCleanups(this.engine);
  }

  /**
   * A VM whose job was waiting on a hypervisor task (vCenter, xapi): the task is reattached and
   * waited for, then the VM settles from what the host reports and the job ends with the task's
   * outcome, instead of failing because Kiln restarted. False when there is nothing to reattach.
   */
  private async reattach(vm: VmRow): Promise<boolean> {
    const job = this.engine.jobs.orphanTask(vm.uuid);
    const hostId = vm.host_id ?? vm.last_host_id;
    if (!job || hostId === null) return false;
    const outcome = await this.engine.hosts.reattachTask(hostId, job.taskRef).catch(() => undefined);
    if (!outcome) return false;
    await this.settle(vm);
    const settled = this.engine.vms.get(vm.id);
    const owner = this.engine.accounts.byUserId(settled.user_id);
    if (outcome.state === 'success' && owner) this.engine.jobs.finishOrphan(job.uuid, { ok: true, result: { virtualmachine: vmJobResult(this.engine, settled, owner) } });
    else this.engine.jobs.finishOrphan(job.uuid, { ok: false, message: `the hypervisor task ${job.taskRef} ended ${outcome.state}${outcome.error ? `: ${outcome.error}` : ''}` });
    return true;
  }

  /** The note of a settling transition: the interrupted job by command and id, when there is one. */
  private interruptedNote(vm: VmRow): string {
    const job = this.engine.jobs.interruptedJob(vm.uuid);
    return job ? `settled after restart: its ${job.cmd} job (${job.uuid}) had been interrupted` : NOTE;
  }

  /** How the reconcile left VM (as it was before; UNANSWERED: its host's error), the end of its interrupted job's error. */
  private settledWords(vm: VmRow, unanswered?: string): string {
    const after = this.engine.vms.get(vm.id);
    const host = after.host_id !== null ? (this.engine.db.prepare('SELECT name FROM hosts WHERE id=?').pluck().get(after.host_id) as string | undefined) : undefined;
    const how: Partial<Record<VmState, string>> = { Destroying: 'Kiln finished the destroy', Expunging: 'Kiln finished the expunge', Creating: 'the deploy had not finished' };
    const settled = unanswered === undefined ? 'Kiln settled the VM on what its host reports' : `its host did not answer (${unanswered}), and Kiln settled the VM without it`;
    return `After the restart ${how[vm.state] ?? settled}: it is ${after.state}${host ? ` on host ${host}` : ''}.`;
  }

  /** Settles VM from its host's view; the host's error when it did not answer. */
  private async settle(vm: VmRow, note = NOTE): Promise<string | undefined> {
    const { vms } = this.engine;
    const hostId = vm.host_id ?? vm.last_host_id;
    const asked = hostId !== null ? await this.ask(hostId, vmRef(vm)) : { power: 'Missing' as const };
    const power = asked.power;
    const unreachable = power === undefined ? `; host unreachable (${asked.error})` : '';
    switch (vm.state) {
      case 'Creating':
        // Start moves a VM to Starting before it defines anything, so nothing exists on a host yet.
        vms.transition(vm, 'Error', { note: `${note}: the deploy did not finish` });
        return undefined;
      case 'Destroying':
        // finishDestroy asks the host itself; an unreachable one is recorded, not guessed at.
        await vms.finishDestroy(undefined, vm, [], undefined);
        return undefined;
      case 'Expunging':
        await vms.finishExpunge(undefined, vm);
        return undefined;
      case 'Migrating': {
        if (power === 'Running') {
          vms.transition(vm, 'Running', { note: `${note}: still running on its source host`, hostId });
          return undefined;
        }
        const found = power === undefined ? undefined : await this.findRunning(vm, hostId);
        if (found !== undefined) {
          vms.transition(vm, 'Running', { note: `${note}: the migration had finished`, hostId: found });
          this.engine.db.prepare('UPDATE vm_instances SET last_host_id=? WHERE id=?').run(found, vm.id);
          return undefined;
        }
        vms.transition(vm, power === undefined ? 'Unknown' : 'Stopped', { note: `${note}${unreachable}`, hostId: power === undefined ? hostId : null });
        return asked.error;
      }
      default: {
        // Starting, Stopping: what the host runs is what the VM is. A host that does not answer
        // leaves it Stopped, as a forced stop does; the HA pass powers it off there if it comes back running.
        const target: VmState = power === 'Running' ? 'Running' : 'Stopped';
        vms.transition(vm, target, { note: `${note}${unreachable}`, hostId: target === 'Running' ? hostId : null });
        if (hostId !== null) this.engine.db.prepare('UPDATE vm_instances SET last_host_id=? WHERE id=?').run(hostId, vm.id);
        return asked.error;
      }
    }
  }

  /** The power state of NAME on HOSTID, or no power and the error when the host does not answer. */
  private async ask(hostId: number, name: string): Promise<{ power?: PowerState | 'Missing'; error?: string }> {
    try {
      return { power: await (await this.engine.hosts.session(hostId)).powerState(name) };
    } catch (error) {
      return { error: error instanceof Error ? error.message : String(error) };
    }
  }

  /** The other Up host of the VM's cluster that runs it (where an interrupted migration got to). */
  private async findRunning(vm: VmRow, exceptHostId: number | null): Promise<number | undefined> {
    const hosts = this.engine.db.prepare(`SELECT id FROM hosts WHERE removed IS NULL AND state='Up' AND id<>? AND (cluster_id=? OR ? IS NULL)`).all(exceptHostId ?? -1, vm.cluster_id, vm.cluster_id) as { id: number }[];
    for (const host of hosts) {
      if ((await this.ask(host.id, vmRef(vm))).power === 'Running') return host.id;
    }
    return undefined;
  }
}
