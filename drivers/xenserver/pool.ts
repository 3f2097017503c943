/**
 * One xapi pool: one session on its master, one inventory fed by one event.from feed, and the
 * hosts behind it. Every Kiln host of the pool shares this object; the driver's host sessions are
 * views onto it. Connection state comes from the feed: when it fails (master gone, network cut)
 * every host is reported disconnected, and when it answers again (after a re-login, a redirect to
 * a new master) they are reported connected, with a full resync of the inventory.
 *
 * Where a VM lives: resident_on while it runs, else its affinity (Kiln sets it at define, start
 * and migration, and follows a platform move), so a host session sees exactly the VMs on its
 * host and a pool-wide definition is never taken for a stale copy on another host.
 */
import { DriverError, type EndpointEvent, type EndpointHost, type PowerState } from '../types.js';
import { startedOrClosed } from '../common/shared-connections.js';
import { EventListeners } from '../common/event-listeners.js';
import { InitiatedBy } from '../initiated-by.js';
import { mapped, toDriverError } from './errors.js';
import { XapiClient } from './xapi/client.js';
import { XapiInventory, type InventoryChange } from './xapi/inventory.js';
import { isNullRef, type HostRecord, type VmRecord, type XRef, type XapiClass } from './xapi/records.js';

export interface PoolOptions {
  url: string;
  username: string;
  password: string;
  thumbprint?: string;
  /** event.from's blocking timeout (seconds). */
  eventTimeoutSeconds?: number;
  timeoutMs?: number;
}

/**
 * What the inventory holds. Not task (Kiln waits on its own tasks by their own subscription); not
 * the per-VM objects (VM_metrics and VM_guest_metrics change all the time on a real pool; VBD,
 * VDI and console outnumber the VMs): an operation that needs them reads them for its VM.
 */
export const WATCHED: XapiClass[] = ['pool', 'host', 'host_metrics', 'VM', 'SR', 'PBD', 'SM', 'network', 'PCI', 'GPU_group', 'PGPU', 'VGPU', 'VGPU_type'];

export const MiB = 1024 * 1024;

const POWER: Record<string, PowerState> = { Running: 'Running', Halted: 'Stopped', Paused: 'Paused', Suspended: 'Paused' };
export const powerOf = (s: string | undefined): PowerState => POWER[s ?? ''] ?? 'Unknown';

/** A VM Kiln may manage: not a template, snapshot or control domain. */
export const isGuest = (v: VmRecord | undefined): v is VmRecord => !!v && !v.is_a_template && !v.is_a_snapshot && !v.is_control_domain;

/** The other_config key holding Kiln's uuid of the VM (xapi's own uuid is assigned by xapi). */
export const KILN_UUID_KEY = 'kiln_uuid';

/**
 * Marks VM as Kiln's VM UUID: other_config kiln_uuid, the uuid listInstances reports for it, by
 * which a reconcile finds it after a move whose answer was lost (moved-after-all.ts) and which
 * lets its home follow a move the platform made. The one mark for a VM Kiln makes (define) and one
 * it takes over (adopt). A mark already there (a clone of a template made from a Kiln VM, an
 * earlier import whose release never ran) is replaced: xapi refuses a second add of a key.
 */
export async function markKilns(pool: XenPool, vm: XRef, uuid: string): Promise<void> {
  if (pool.vm(vm)?.other_config?.[KILN_UUID_KEY] === uuid) return;
  await pool.client.call('VM.remove_from_other_config', vm, KILN_UUID_KEY);
  await pool.client.call('VM.add_to_other_config', vm, KILN_UUID_KEY, uuid);
}

/** Drops the mark markKilns put on VM (unmanageVirtualMachine: the VM is no longer Kiln's), read back. Nothing to do for a VM without it. */
export async function unmarkKilns(pool: XenPool, vm: XRef): Promise<void> {
  if (pool.vm(vm)?.other_config?.[KILN_UUID_KEY] === undefined) return;
  await pool.client.call('VM.remove_from_other_config', vm, KILN_UUID_KEY);
  await pool.settle('VM', vm);
}

export class XenPool {
  readonly initiated = new InitiatedBy<XRef>((ref) => ref);
  private readonly listeners = new EventListeners<EndpointEvent>();
  connected = true;
  lastError: string | undefined;
  /** Halted VMs pool HA is about to restart (their host died): no stop is reported for them. */
  private readonly awaitingHaRestart = new Set<XRef>();

  private constructor(
    readonly client: XapiClient,
    readonly inventory: XapiInventory,
  ) {}

  static async open(opts: PoolOptions): Promise<XenPool> {
    const client = await mapped(`connecting to ${opts.url}`, () => XapiClient.connect({ url: opts.url, username: opts.username, password: opts.password, thumbprint: opts.thumbprint, timeoutMs: opts.timeoutMs }));
    // The feed's callbacks reach the pool object made right after it.
    const late: { pool?: XenPool } = {};
    const inventory = new XapiInventory(client, WATCHED, {
      timeoutSeconds: opts.eventTimeoutSeconds,
      onChange: (c) => late.pool?.onChange(c),
      onStreamError: (e) => late.pool?.setConnected(false, toDriverError(e, 'xapi event feed').message),
      onStreamRecovered: () => late.pool?.setConnected(true),
    });
    const pool = new XenPool(client, inventory);
    late.pool = pool;
    await startedOrClosed(client, () => mapped('reading the pool inventory', () => inventory.start()));
    return pool;
  }

  get thumbprint(): string | undefined {
    return this.client.thumbprint;
  }

  get name(): string {
    return this.poolRecord()?.name_label || this.client.host;
  }

  poolRecord() {
    return this.inventory.all('pool')[0]?.[1];
  }

  get haEnabled(): boolean {
    return this.poolRecord()?.ha_enabled === true;
  }

  onEvent(listener: (e: EndpointEvent) => void): () => void {
    return this.listeners.add(listener);
  }

  private emit(e: EndpointEvent): void {
    this.listeners.emit(e);
  }

  private setConnected(up: boolean, error?: string): void {
    this.lastError = error;
    if (this.connected === up) return;
    this.connected = up;
    this.emit(up ? { kind: 'connection', state: 'up' } : { kind: 'connection', state: 'down', error });
    for (const [ref] of this.inventory.all('host')) this.emit({ kind: 'host', hostRef: ref, state: up ? 'connected' : 'disconnected' });
  }

  /** Fails at once with a clear error while the master is unreachable, instead of a timeout per call. */
  assertReachable(doing: string): void {
    if (!this.connected) throw new DriverError(`${doing}: the pool master ${this.client.host} is unreachable${this.lastError ? ` (${this.lastError})` : ''}`, 'unreachable');
  }

  // --- hosts

  host(ref: XRef): HostRecord | undefined {
    return this.inventory.get('host', ref);
  }

  hostLive(ref: XRef): boolean {
    const h = this.host(ref);
    return !!h && this.connected && this.inventory.get('host_metrics', h.metrics)?.live !== false;
  }

  hosts(): EndpointHost[] {
    return this.inventory.all('host')
      .map(([ref, h]) => ({ ref, name: h.name_label || h.hostname, cluster: this.name, connected: this.hostLive(ref) }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  // --- VMs

  vm(ref: XRef): VmRecord | undefined {
    return this.inventory.get('VM', ref);
  }

  /** The host a VM lives on: where it runs, else its affinity. */
  homeOf(v: VmRecord): XRef | undefined {
    if (!isNullRef(v.resident_on)) return v.resident_on;
    return isNullRef(v.affinity) ? undefined : v.affinity;
  }

  /** Guests living on HOST (control domains, templates and snapshots left out). */
  vmsOn(host: XRef): [XRef, VmRecord][] {
    return this.inventory.all('VM').filter(([, v]) => isGuest(v) && this.homeOf(v) === host);
  }

  /** Read-your-writes after Kiln's own call: the feed has delivered up to now (event.inject on the object). */
  settle(cls: XapiClass, ref: XRef): Promise<void> {
    return mapped(`reading ${ref} back`, () => this.inventory.barrier(cls, ref));
  }

  /** Waits until DONE holds on the inventory (after every batch), or fails with 'timeout'. */
  async waitFor(done: () => boolean, timeoutMs: number, what: string, signal?: AbortSignal): Promise<void> {
    await mapped(what, () => this.inventory.until(done, timeoutMs, what, signal));
  }

  // --- events

  private onChange(c: InventoryChange): void {
    if (c.cls === 'host_metrics' && c.op === 'mod' && c.before?.live !== c.after?.live) {
      const host = this.inventory.all('host').find(([, h]) => h.metrics === c.ref);
      if (host) this.emit({ kind: 'host', hostRef: host[0], state: c.after?.live ? 'connected' : 'disconnected' });
      return;
    }
    if (c.cls !== 'VM') return;
    const before = c.before;
    const after = c.after;
    const v = after ?? before;
    if (!isGuest(v)) return;
    const mine = this.initiated.has(c.ref);
    const name = v.name_label;
    if (c.op === 'del') {
      this.emit({ kind: 'power', vmRef: c.ref, name, hostRef: before ? this.homeOf(before) : undefined, state: 'Unknown', reason: 'destroyed', initiator: mine ? 'user' : 'platform' });
      return;
    }
    if (c.op === 'add' || !before || !after) {
      if (after?.power_state === 'Running') this.emit({ kind: 'power', vmRef: c.ref, name, hostRef: after.resident_on, state: 'Running', reason: 'started', initiator: mine ? 'user' : 'platform' });
      return;
    }
    const wasRunning = before.power_state === 'Running';
    if (before.power_state !== after.power_state) {
      const state = powerOf(after.power_state);
      if (state === 'Running') {
        const restarted = this.awaitingHaRestart.delete(c.ref);
        this.followHome(c.ref, after);
        // Not Kiln's: a power-on is the platform's (pool HA restarting a VM of a failed host).
        this.emit({ kind: 'power', vmRef: c.ref, name, hostRef: after.resident_on, state, reason: restarted ? 'restarted' : before.power_state === 'Halted' ? 'started' : 'resumed', initiator: mine ? 'user' : 'platform' });
        return;
      }
      if (wasRunning && after.power_state === 'Halted' && !mine && this.protectedByPoolHa(before)) {
        // Its host failed and pool HA restarts it elsewhere: the restart is the news, not a stop
        // Kiln's HA would answer with a second start.
        this.awaitingHaRestart.add(c.ref);
        return;
      }
      this.emit({
        kind: 'power', vmRef: c.ref, name, hostRef: wasRunning ? before.resident_on : this.homeOf(after), state,
        reason: state === 'Stopped' ? (mine ? 'stopped' : 'shutdown') : undefined,
        initiator: mine ? 'user' : 'guest',
      });
      return;
    }
    if (wasRunning && after.power_state === 'Running' && before.resident_on !== after.resident_on && !isNullRef(after.resident_on)) {
      this.followHome(c.ref, after);
      this.emit({ kind: 'power', vmRef: c.ref, name, hostRef: after.resident_on, state: 'Running', reason: 'migrated', initiator: mine ? 'user' : 'platform' });
    }
  }

  /** A VM pool HA restarts when its host fails, and that host is down now. */
  private protectedByPoolHa(v: VmRecord): boolean {
    if (!this.haEnabled || v.ha_restart_priority !== 'restart') return false;
    return isNullRef(v.resident_on) ? false : !this.hostLive(v.resident_on);
  }

  /** A VM the platform ran elsewhere keeps that host as its home once it halts (its affinity follows). */
  private followHome(ref: XRef, v: VmRecord): void {
    if (this.initiated.has(ref) || isNullRef(v.resident_on) || v.affinity === v.resident_on || !v.other_config?.[KILN_UUID_KEY]) return;
    void this.client.call('VM.set_affinity', ref, v.resident_on).catch(() => undefined);
  }

  private closing = false;

  async close(): Promise<void> {
    this.closing = true;
    await this.inventory.stop();
    await this.client.logout().catch(() => undefined);
    this.client.close();
  }

  /**
   * After a close that did not finish in time (Endpoint.abort): its logout waits over a link that
   * stopped answering, for the transport's minute. Its sockets are destroyed now, which fails the
   * logout and lets the close end. Only once closing: the pool is shared by its Kiln hosts, and
   * one host's endpoint closed before the last closes nothing.
   */
  abort(): void {
    if (this.closing) this.client.close();
  }
}

