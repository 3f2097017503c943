/**
 * Work the engine does on its own schedule: the expunge sweeper (expunge.interval) and the
 * reconcile pass that settles VMs a dead process left half-way (Starting, Stopping, …) by
 * asking their host what is really there.
 */
import type { Engine } from './engine.js';
import type { VmRow } from './vm/rows.js';
import type { VmState } from './vm/states.js';
import { HaMonitor } from './ha/ha-monitor.js';

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
    void this.reconcileInterrupted();
    this.ha.start();
    this.schedule('expunge.interval', () => this.sweep());
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
      return await this.engine.vms.sweepExpunge();
    } finally {
      this.sweeping = false;
    }
  }

  /** VMs left in a transient state by a previous process are settled from the host's view. */
  async reconcileInterrupted(): Promise<void> {
    const { db, vms, hosts, log } = this.engine;
    const stuck = db.prepare(`SELECT * FROM vm_instances WHERE state IN ('Creating','Starting','Stopping','Migrating','Destroying','Expunging')`).all() as VmRow[];
    for (const vm of stuck) {
      try {
        const hostId = vm.host_id ?? vm.last_host_id;
        const power = hostId !== null ? await (await hosts.session(hostId)).powerState(vm.internal_name) : 'Missing';
        const target: VmState = vm.state === 'Creating' ? 'Error' : vm.state === 'Destroying' || vm.state === 'Expunging' ? 'Error' : power === 'Running' ? 'Running' : 'Stopped';
        vms.transition(vm, target, { note: 'settled after restart: the job that was moving it had been interrupted', hostId: target === 'Running' ? hostId : null });
      } catch (error) {
        log.warn(`reconcile ${vm.uuid}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
}
