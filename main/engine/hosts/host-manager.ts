/**
 * Keeps one driver endpoint per host URL (a KVM host, a vCenter, a pool master: hosts of one
 * vCenter share its connection and event stream), connects every host at start in the background
 * (connectAll) and on demand after (one connect at a time per endpoint; lists use only open
 * sessions, openSession), maps the endpoint's hosts onto host rows by ref, records host state (Up /
 * Disconnected / Alert) and capacity, pins the trust anchor on first contact, and forwards what
 * endpoints report on their own (crashes, guest shutdowns, platform moves) per host row.
 */
import { EventEmitter } from 'node:events';
import type { Db } from '../db/database.js';
import { now } from '../db/database.js';
import type { EventLog } from '../events.js';
import { ApiError } from '../registry/errors.js';
import type { SecretBox } from '../secrets.js';
import { eachBounded } from './fan-out.js';
import { recordHostPools } from '../storage/pool-sync.js';
import type { Endpoint, EndpointHost, GpuDeviceInfo, HostEvent, HostSession, HypervisorDriver, HypervisorType, TaskOutcome, TrustAnchor } from '../../../drivers/types.js';

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
  /** The host's ref on its endpoint; NULL until first connected. */
  ref: string | null;
  trust_kind: TrustAnchor['kind'] | null;
  trust_fingerprint: string | null;
  /** JSON of capabilityMap() from the last refresh; NULL before the first connect (migration 14). */
  capabilities: string | null;
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

/**
 * What a host can do, flat for the API: the driver's capabilities as the host refined them, and
 * which optional facets its session offers (the console entries name their protocol).
 */
export function capabilityMap(session: HostSession): Record<string, boolean | number | string> {
  return {
    ...session.capabilities,
    snapshots: session.snapshots !== undefined,
    consoleSerial: session.console?.serial !== undefined,
    consoleGraphical: session.console?.graphical?.protocol ?? false,
    stageImage: session.storage !== undefined,
    primaryStorage: session.primaryStorage !== undefined,
    removeImage: session.storage?.removeImage !== undefined,
    volumes: session.volumes !== undefined,
    nics: session.nics !== undefined,
    gpuFacet: session.gpu !== undefined,
    guestMetadata: session.guestMetadata?.method ?? false,
    metadataRelay: session.metadataRelay !== undefined,
    backup: session.backup !== undefined,
    import: session.import !== undefined,
    migration: session.migration !== undefined,
  };
}

/** A host's pinned trust anchor in words, for events: "SSH host key SHA256:…" / "TLS certificate AB:CD:…". */
export function trustText(host: Pick<HostRow, 'trust_kind' | 'trust_fingerprint'>): string {
  if (!host.trust_fingerprint) return 'no trust anchor';
  return `${host.trust_kind === 'tls-certificate' ? 'TLS certificate' : 'SSH host key'} ${host.trust_fingerprint}`;
}

/** How long drop waits for an endpoint's close (a vCenter's logout answers in well under a second). */
const CLOSE_TIMEOUT_MS = 5000;

interface EndpointEntry {
  endpoint: Endpoint;
  hostIds: Set<number>;
  unsubscribe: () => void;
}

export class HostManager {
  readonly events = new EventEmitter();
  private readonly sessions = new Map<number, HostSession>();
  private readonly connecting = new Map<number, Promise<HostSession>>();
  /** Open endpoints by URL, with the host rows using them. */
  private readonly endpoints = new Map<string, EndpointEntry>();
  /**
   * Endpoints being connected, by URL: the hosts of one vCenter connect side by side (at start,
   * in an HA pass, when their cluster is Managed again), and each must join the one connect. Two
   * connects registered two endpoints under one URL, the second replacing the first: the first
   * was then closed by no drop (its hosts were in no entry), so Kiln stayed logged in to vCenter,
   * and its hosts were not told when its stream failed (events go to the URL's entry's hosts).
   */
  private readonly opening = new Map<string, Promise<EndpointEntry>>();
  /** Set by closeAll: a connect still under way then (the start's background one) leaves nothing open and writes nothing. */
  private closed = false;

  constructor(
    private readonly db: Db,
    private readonly secrets: SecretBox,
    private readonly driverMap: Map<HypervisorType, HypervisorDriver>,
    /** Where a close abandoned by drop is reported (the engine's event log). */
    private readonly eventLog?: Pick<EventLog, 'record'>,
  ) {}

  driver(hypervisor: HypervisorType): HypervisorDriver {
    const driver = this.driverMap.get(hypervisor);
    if (!driver) throw ApiError.unavailable(`no ${hypervisor} driver is available in this Kiln`);
    return driver;
  }

  /** Every driver this Kiln has. */
  drivers(): HypervisorDriver[] {
    return [...this.driverMap.values()];
  }

  /** The driver for a hypervisor, or undefined when this Kiln has none (listings skip it rather than fail). */
  knownDriver(hypervisor: string): HypervisorDriver | undefined {
    return this.driverMap.get(hypervisor as HypervisorType);
  }

  /** The file name a new volume gets: Kiln's uuid in the driver's own disk format (DriverDefaults). */
  volumeName(hypervisor: string, volumeUuid: string): string {
    return `${volumeUuid}.${this.driver(hypervisor as HypervisorType).defaults.diskFormat}`;
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

  /**
   * The host's session when it is open, never connecting: what a list call may use, so that a list
   * never waits for (nor pays the statements of) a connect; a host without one answers from its rows.
   */
  openSession(hostId: number): HostSession | undefined {
    return this.sessions.get(hostId);
  }

  /**
   * Connects every host that is not removed, LIMIT at a time, each failure recorded on its row as
   * a connect records it: Kiln does this in the background at start, so that the first calls after
   * a start find the sessions open (or the host marked unreachable) instead of connecting in-line.
   */
  async connectAll(limit: number): Promise<void> {
    const ids = this.db.prepare('SELECT id FROM hosts WHERE removed IS NULL ORDER BY id').pluck().all() as number[];
    await eachBounded(ids, limit, async (id) => {
      if (!this.closed) await this.session(id).catch(() => undefined);
    });
  }

  private async connect(hostId: number): Promise<HostSession> {
    const host = this.row(hostId);
    // An Unmanaged cluster's hosts are not connected (updateCluster managedstate, CloudStack's umanageHost): they stay Disconnected.
    const unmanaged = this.db.prepare(`SELECT name FROM clusters WHERE id=? AND managed_state<>'Managed'`).pluck().get(host.cluster_id) as string | undefined;
    if (unmanaged !== undefined) throw ApiError.unavailable(`host ${host.name} is in cluster ${unmanaged}, which is Unmanaged: Kiln does not connect to its hosts (updateCluster managedstate=Managed)`);
    try {
      const endpoint = await this.endpoint(host);
      const ref = host.ref ?? (await this.hostRefOn(endpoint, host));
      const session = endpoint.host(ref);
      if (!host.ref) this.db.prepare('UPDATE hosts SET ref=? WHERE id=?').run(ref, hostId);
      this.sessions.set(hostId, session);
      await this.refresh(hostId, session);
      if (this.closed) throw new Error('Kiln is closing');
      // Per-session services elsewhere in the engine open here (metadata/host-relay.ts).
      this.events.emit('session-opened', { hostId, session });
      return session;
    } catch (error) {
      if (this.closed) {
        await this.drop(hostId);
        throw error;
      }
      const message = error instanceof Error ? error.message : String(error);
      const category = (error as { category?: string }).category;
      // A host HA has declared Down stays Down while reconnects fail (else every retry would flip
      // it to Disconnected and the next HA pass would declare it down again).
      this.setState(hostId, category === 'host-key-changed' ? 'Alert' : host.state === 'Down' ? 'Down' : 'Disconnected', message);
      throw ApiError.unavailable(`host ${host.name} is not reachable: ${message}`);
    }
  }

  /**
   * The hosts behind an endpoint not added yet (addCluster of a vCenter cluster or a pool): one
   * connect, its host list and what it was trusted by, then closed again.
   */
  async discover(hypervisor: HypervisorType, spec: { url: string; username?: string; password?: string; privateKey?: string; pinnedTrust?: TrustAnchor; options?: Record<string, string> }): Promise<{ hosts: EndpointHost[]; trust?: TrustAnchor }> {
    const endpoint = await this.driver(hypervisor).connect({ hostId: `discover:${spec.url}`, ...spec });
    try {
      return { hosts: await endpoint.hosts(), trust: endpoint.trust };
    } finally {
      await endpoint.close().catch(() => undefined);
    }
  }

  /**
   * Waits for a hypervisor task a previous process started on the host's endpoint; undefined
   * where the driver has no tasks (KVM), and the caller reconciles from the host's view instead.
   */
  async reattachTask(hostId: number, taskRef: string): Promise<TaskOutcome | undefined> {
    await this.session(hostId);
    const endpoint = this.endpoints.get(this.row(hostId).url)?.endpoint;
    return endpoint?.reattachTask ? endpoint.reattachTask(taskRef) : undefined;
  }

  /** The pinned trust anchor of a host row (what the admin confirmed or Kiln saw first). */
  static trustOf(host: Pick<HostRow, 'trust_kind' | 'trust_fingerprint'>): TrustAnchor | undefined {
    return host.trust_kind && host.trust_fingerprint ? { kind: host.trust_kind, fingerprint: host.trust_fingerprint } : undefined;
  }

  /** The open endpoint for the host's URL, connecting it first (or joining the connect under way). */
  private async endpoint(host: HostRow): Promise<Endpoint> {
    for (;;) {
      const open = this.endpoints.get(host.url);
      if (open) {
        open.hostIds.add(host.id);
        return open.endpoint;
      }
      let pending = this.opening.get(host.url);
      if (!pending) {
        pending = this.openEndpoint(host).finally(() => this.opening.delete(host.url));
        this.opening.set(host.url, pending);
      }
      // Registered with no host, so no drop closes it before its hosts join: each one that waited
      // takes it from the map above (or opens another, should it have been closed meanwhile).
      await pending;
    }
  }

  /** Connects the endpoint of the host's URL and registers it with no host; pins what it presented on first use. */
  private async openEndpoint(host: HostRow): Promise<EndpointEntry> {
    const secret: HostSecret = host.secret_enc ? (JSON.parse(this.secrets.open(host.secret_enc)) as HostSecret) : {};
    const endpoint = await this.driver(host.hypervisor).connect({
      hostId: host.uuid,
      url: host.url,
      username: host.username ?? undefined,
      password: secret.password,
      privateKey: secret.privateKey,
      pinnedTrust: HostManager.trustOf(host),
      options: JSON.parse(host.options) as Record<string, string>,
    });
    if (this.closed) {
      await endpoint.close().catch(() => undefined);
      throw new Error('Kiln is closing');
    }
    const trust = endpoint.trust;
    if (!host.trust_fingerprint && trust) {
      this.db.prepare('UPDATE hosts SET trust_kind=?, trust_fingerprint=? WHERE url=? AND removed IS NULL AND trust_fingerprint IS NULL').run(trust.kind, trust.fingerprint, host.url);
    }
    const unsubscribe = endpoint.onEvent((event) => this.onEndpointEvent(host.url, event));
    const entry = { endpoint, hostIds: new Set<number>(), unsubscribe };
    this.endpoints.set(host.url, entry);
    return entry;
  }

  /** Which of the endpoint's hosts a row is: the only one, else the one of the row's name. */
  private async hostRefOn(endpoint: Endpoint, host: HostRow): Promise<string> {
    const hosts = await endpoint.hosts();
    const found = hosts.length === 1 ? hosts[0] : hosts.find((h) => h.name === host.name);
    if (!found) throw new Error(`the endpoint ${host.url} reports no host ${host.name} (it has ${hosts.map((h) => h.name).join(', ') || 'none'})`);
    return found.ref;
  }

  /** The host rows an endpoint event is about: the one with its hostRef, else every row on the endpoint. */
  private onEndpointEvent(url: string, event: HostEvent): void {
    const entry = this.endpoints.get(url);
    if (!entry) return;
    const hostRef = event.kind === 'connection' ? undefined : event.hostRef;
    const rows = this.db.prepare(`SELECT id, ref FROM hosts WHERE url=? AND removed IS NULL AND cluster_id NOT IN (SELECT id FROM clusters WHERE managed_state<>'Managed')`).all(url) as { id: number; ref: string | null }[];
    const targets = hostRef !== undefined && rows.some((r) => r.ref === hostRef) ? rows.filter((r) => r.ref === hostRef) : rows.filter((r) => entry.hostIds.has(r.id));
    for (const row of targets) this.onHostEvent(row.id, event);
  }

  /** Re-reads capacity, capabilities and storage pools from the host and marks it Up. */
  async refresh(hostId: number, session?: HostSession): Promise<void> {
    const s = session ?? (await this.session(hostId));
    // Only what is recorded below: a driver that can read it alone skips the networks and devices.
    // The pools are read beside it (they are what listStoragePools lists until the next refresh);
    // a host whose pools cannot be read now keeps its recorded ones.
    const [inv, pools] = await Promise.all([s.capacity ? s.capacity() : s.inventory(), s.primaryStorage?.pools().catch(() => undefined)]);
    if (pools) recordHostPools(this.db, hostId, this.row(hostId).cluster_id, pools);
    this.db
      .prepare(
        `UPDATE hosts SET cpu_sockets=?, cpu_number=?, cpu_speed=?, memory_total=?, memory_free=?, hypervisor_version=?, capabilities=?, last_pinged=? WHERE id=?`,
      )
      .run(inv.cpuSockets, inv.cpuNumber, inv.cpuSpeedMhz, inv.memoryTotalMiB, inv.memoryFreeMiB, inv.hypervisorVersion, JSON.stringify(capabilityMap(s)), now(), hostId);
    if (s.gpu) this.storeGpus(hostId, inv.gpus);
    // Through setState, so that a host coming back Up is reported like any other state change.
    this.setState(hostId, 'Up');
  }

  /**
   * The host's GPU groups and vGPU types with capacity, as placement reads them (host_gpus, R65).
   * Only for a host whose driver reports GPUs (the gpu facet); rows of other hosts are left alone.
   */
  private storeGpus(hostId: number, gpus: GpuDeviceInfo[]): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM host_gpus WHERE host_id=?').run(hostId);
      const insert = this.db.prepare('INSERT INTO host_gpus (host_id, group_name, vgpu_type, max_capacity, remaining_capacity, max_vgpu_per_pgpu, video_ram, max_heads, max_resolution_x, max_resolution_y, pgpus) VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(host_id, group_name, vgpu_type) DO UPDATE SET max_capacity=excluded.max_capacity, remaining_capacity=excluded.remaining_capacity, pgpus=excluded.pgpus');
      for (const g of gpus) insert.run(hostId, g.group, g.vgpuType, g.maxCapacity, g.remainingCapacity, g.maxVgpuPerPgpu ?? null, g.videoRamMiB ?? null, g.maxHeads ?? null, g.maxResolutionX ?? null, g.maxResolutionY ?? null, g.pgpus ? JSON.stringify(g.pgpus) : null);
    })();
    // The GPU capacity a start or stop changed is read after the VM's own change went out: the
    // 'hosts' live channel sends the host again with it.
    this.events.emit('host-changed', { hostId });
  }

  /** Re-reads GPU capacity after a start or stop on the host (R71: never left stale until the next sync); best effort. */
  async refreshGpus(hostId: number): Promise<void> {
    const session = this.sessions.get(hostId);
    if (!session?.gpu) return;
    try {
      this.storeGpus(hostId, await session.gpu.list());
    } catch {
      // The next refresh or sync reads it again.
    }
  }

  setState(hostId: number, state: 'Up' | 'Disconnected' | 'Alert' | 'Down', error?: string): void {
    const before = this.db.prepare('SELECT state FROM hosts WHERE id=?').get(hostId) as { state: string } | undefined;
    this.db.prepare('UPDATE hosts SET state=?, last_error=? WHERE id=?').run(state, error ?? null, hostId);
    if (before && before.state !== state) this.events.emit('host-state', { hostId, state, previous: before.state, error });
  }

  /**
   * Drops a session (after an error or when the host is removed); the next call reconnects. What
   * is dropped is decided at once, and only then are the endpoints closed: a close takes a while (a
   * vCenter's change stream ends, its logout goes over a cut link), and the host may reconnect
   * meanwhile. Closing inside the walk over the endpoints resumed it on the new endpoint of the
   * same URL, which it then closed too, leaving the host Up on a session that no stream watched.
   */
  async drop(hostId: number): Promise<void> {
    this.sessions.delete(hostId);
    const closing: Promise<void>[] = [];
    // The endpoint closes with its last host (a vCenter's other hosts keep its connection).
    for (const [url, entry] of [...this.endpoints]) {
      if (!entry.hostIds.delete(hostId) || entry.hostIds.size > 0) continue;
      this.endpoints.delete(url);
      entry.unsubscribe();
      closing.push(this.closeWithin(hostId, url, entry.endpoint));
    }
    await Promise.all(closing);
  }

  /**
   * Closes an endpoint, waiting at most CLOSE_TIMEOUT_MS: a close says goodbye over the link (a
   * vCenter's logout), and over a link that stopped answering that waits for the transport's own
   * timeout (a minute), holding deleteHost, or the HA check that dropped the host and the pass
   * behind it. A close that takes longer is abandoned: its sockets are destroyed and a WARN says so.
   */
  private async closeWithin(hostId: number, url: string, endpoint: Endpoint): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), CLOSE_TIMEOUT_MS);
    });
    const outcome = await Promise.race([endpoint.close().then(() => 'closed', () => 'closed'), late]);
    clearTimeout(timer);
    if (outcome === 'closed') return;
    endpoint.abort?.();
    const host = this.db.prepare('SELECT name, uuid FROM hosts WHERE id=?').get(hostId) as { name: string; uuid: string } | undefined;
    this.eventLog?.record({
      type: 'HOST.DISCONNECT',
      level: 'WARN',
      description: `host ${host?.name ?? hostId}: closing the connection to ${url} did not finish within ${CLOSE_TIMEOUT_MS / 1000} s (no answer over the link); abandoned${endpoint.abort ? ', its sockets destroyed' : ''}`,
      resourceType: 'Host',
      resourceUuid: host?.uuid,
    });
  }

  private onHostEvent(hostId: number, event: HostEvent): void {
    if (event.kind === 'connection') {
      this.setState(hostId, event.state === 'up' ? 'Up' : 'Disconnected', event.error);
      if (event.state === 'down') void this.drop(hostId);
    }
    this.events.emit('host-event', { hostId, event });
  }

  async closeAll(): Promise<void> {
    this.closed = true;
    const all = new Set([...this.sessions.keys(), ...[...this.endpoints.values()].flatMap((e) => [...e.hostIds])]);
    await Promise.all([...all].map((id) => this.drop(id)));
  }
}
