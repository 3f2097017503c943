/**
 * Keeps one driver session per host, connects on demand (one connect at a time per host),
 * records host state (Up / Disconnected / Alert) and capacity, pins host keys on first contact,
 * and forwards what hosts report on their own (crashes, guest shutdowns) to whoever listens.
 */
import { EventEmitter } from 'node:events';
import type { Db } from '../db/database.js';
import { now } from '../db/database.js';
import { ApiError } from '../registry/errors.js';
import type { SecretBox } from '../secrets.js';
import type { HostEvent, HostSession, HypervisorDriver, HypervisorType } from '../../../drivers/types.js';

export interface HostRow {
  id: number;
  uuid: string;
  name: string;
  zone_id: number;
  pod_id: number;
  cluster_id: number;
  hypervisor: HypervisorType;
  url: string;
  username: string | null;
  secret_enc: string | null;
  host_key_fingerprint: string | null;
  state: string;
  resource_state: string;
  host_tags: string;
  os_category_id: number | null;
  cpu_sockets: number;
  cpu_number: number;
  cpu_speed: number;
  memory_total: number;
  memory_free: number;
  hypervisor_version: string | null;
  last_error: string | null;
  last_pinged: string | null;
  created: string;
  options: string;
}

/** The sealed credential blob stored per host. */
interface HostSecret {
  password?: string;
  privateKey?: string;
}

export class HostManager {
  readonly events = new EventEmitter();
  private readonly sessions = new Map<number, HostSession>();
  private readonly connecting = new Map<number, Promise<HostSession>>();

  constructor(
    private readonly db: Db,
    private readonly secrets: SecretBox,
    private readonly drivers: Map<HypervisorType, HypervisorDriver>,
  ) {}

  driver(hypervisor: HypervisorType): HypervisorDriver {
    const driver = this.drivers.get(hypervisor);
    if (!driver) throw ApiError.unavailable(`no ${hypervisor} driver is available in this Kiln`);
    return driver;
  }

  /** The driver for a hypervisor, or undefined when this Kiln has none (listings skip it rather than fail). */
  knownDriver(hypervisor: string): HypervisorDriver | undefined {
    return this.drivers.get(hypervisor as HypervisorType);
  }

  row(id: number): HostRow {
    const row = this.db.prepare('SELECT * FROM hosts WHERE id=? AND removed IS NULL').get(id) as HostRow | undefined;
    if (!row) throw ApiError.param(`hostid: no host with id ${id}`);
    return row;
  }

  sealSecret(secret: HostSecret): string {
    return this.secrets.seal(JSON.stringify(secret));
  }

  /** The host's session, connecting first when needed. A failed connect marks the host and throws 534. */
  async session(hostId: number): Promise<HostSession> {
    const open = this.sessions.get(hostId);
    if (open) return open;
    const pending = this.connecting.get(hostId);
    if (pending) return pending;
    const attempt = this.connect(hostId).finally(() => this.connecting.delete(hostId));
    this.connecting.set(hostId, attempt);
    return attempt;
  }

  private async connect(hostId: number): Promise<HostSession> {
    const host = this.row(hostId);
    const secret: HostSecret = host.secret_enc ? (JSON.parse(this.secrets.open(host.secret_enc)) as HostSecret) : {};
    try {
      const session = await this.driver(host.hypervisor).connect({
        hostId: host.uuid,
        url: host.url,
        username: host.username ?? undefined,
        password: secret.password,
        privateKey: secret.privateKey,
        pinnedHostKey: host.host_key_fingerprint ?? undefined,
        options: JSON.parse(host.options) as Record<string, string>,
      });
      if (!host.host_key_fingerprint && session.hostKeyFingerprint) {
        this.db.prepare('UPDATE hosts SET host_key_fingerprint=? WHERE id=?').run(session.hostKeyFingerprint, hostId);
      }
      session.onEvent((event) => this.onHostEvent(hostId, event));
      this.sessions.set(hostId, session);
      await this.refresh(hostId, session);
      return session;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const category = (error as { category?: string }).category;
      // A host HA has declared Down stays Down while reconnects fail (else every retry would flip
      // it to Disconnected and the next HA pass would declare it down again).
      this.setState(hostId, category === 'host-key-changed' ? 'Alert' : host.state === 'Down' ? 'Down' : 'Disconnected', message);
      throw ApiError.unavailable(`host ${host.name} is not reachable: ${message}`);
    }
  }

  /** Re-reads capacity from the host and marks it Up. */
  async refresh(hostId: number, session?: HostSession): Promise<void> {
    const s = session ?? (await this.session(hostId));
    const inv = await s.inventory();
    this.db
      .prepare(
        `UPDATE hosts SET state='Up', cpu_sockets=?, cpu_number=?, cpu_speed=?, memory_total=?, memory_free=?, hypervisor_version=?, last_error=NULL, last_pinged=? WHERE id=?`,
      )
      .run(inv.cpuSockets, inv.cpuNumber, inv.cpuSpeedMhz, inv.memoryTotalMiB, inv.memoryFreeMiB, inv.hypervisorVersion, now(), hostId);
  }

  setState(hostId: number, state: 'Up' | 'Disconnected' | 'Alert' | 'Down', error?: string): void {
    const before = this.db.prepare('SELECT state FROM hosts WHERE id=?').get(hostId) as { state: string } | undefined;
    this.db.prepare('UPDATE hosts SET state=?, last_error=? WHERE id=?').run(state, error ?? null, hostId);
    if (before && before.state !== state) this.events.emit('host-state', { hostId, state, previous: before.state, error });
  }

  /** Drops a session (after an error or when the host is removed); the next call reconnects. */
  async drop(hostId: number): Promise<void> {
    const session = this.sessions.get(hostId);
    this.sessions.delete(hostId);
    await session?.close().catch(() => undefined);
  }

  private onHostEvent(hostId: number, event: HostEvent): void {
    if (event.kind === 'connection') {
      this.setState(hostId, event.state === 'up' ? 'Up' : 'Disconnected', event.error);
      if (event.state === 'down') void this.drop(hostId);
    }
    this.events.emit('host-event', { hostId, event });
  }

  async closeAll(): Promise<void> {
    const all = [...this.sessions.keys()];
    await Promise.all(all.map((id) => this.drop(id)));
  }
}
