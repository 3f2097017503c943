/**
 * The KVM driver: libvirt hosts reached over SSH, with virsh doing the work on the host.
 *
 * An endpoint is one host (KvmEndpoint). Host URL: ssh://host[:port] (a user in the URL is used
 * when HostConnectionSpec.username is absent; default root); connection.ts holds the add rules.
 * Credentials: password or privateKey (OpenSSH/PEM text). Host keys are trusted on first use;
 * endpoint.trust is what the engine pins, and a connect with a different pinnedTrust is refused
 * with category 'host-key-changed'.
 *
 * HostConnectionSpec.options (strings), all optional:
 *   pool            storage pool for disks without their own (default "kiln")
 *   domainType      "qemu" (TCG, default here) or "kvm"
 *   uri             libvirt URI on the host (default qemu:///system)
 *   migrationUri    how other hosts reach this host's libvirt (default qemu+ssh://USER@HOST[:PORT]/system)
 *   migrateUnsafe   "false" to drop --unsafe from migrations (default "true")
 *   vnc             "false" to define domains without a VNC display
 *   serialLog       "false" to not also log serial output to /var/log/libvirt/qemu/NAME-serial.log
 *   sharedPools     comma-separated pool names to report as shared storage
 *   isolationAddresses  comma-separated IPs the host's isolation watchdog probes besides its peers
 *                   and default gateway (vSphere's das.isolationaddress)
 *   defaultNetwork  libvirt network or bridge for NICs whose network the host lacks
 *                   (default: qemu user-mode networking)
 *   maxExecChannels concurrent virsh commands on the connection (default 6; sshd allows 10 sessions)
 */
import { DriverError, type ConnectionInput, type DriverDefaults, type ExternalImportFacet, type HostConnectionSpec, type HypervisorDriver, type TrustAnchor } from '../types.js';
import { KVM_CONNECTION_FORM, probeKvmTrust, validateKvmConnection } from './connection.js';
import { KvmEndpoint } from './endpoint.js';
import { openExternalKvm } from './import.js';
import { KVM_DETAIL_OPTIONS } from './disk-buses.js';
import { KvmSession, KVM_CAPABILITIES, type KvmHostOptions } from './session.js';
import { SshConnection } from './ssh-connection.js';
import { PoolQueue } from './storage.js';
import { ISOLATION_AFTER_S, isolationAddresses } from './isolation-watchdog.js';

export { KvmSession, KVM_CAPABILITIES } from './session.js';
export { KvmEndpoint } from './endpoint.js';
export type { KvmHostOptions } from './session.js';
export { sshFingerprint } from './ssh-connection.js';
export type { VncForward } from './vnc.js';

export interface KvmDriverOptions {
  /** Defaults for every host; HostConnectionSpec.options override them per host. */
  defaults?: Partial<Record<keyof KvmHostOptions, string>>;
  /** How often the event reconcile lists domains (ms, default 5000). */
  reconcileIntervalMs?: number;
  /** Poll interval while waiting for a graceful stop (ms, default 500). */
  stopPollMs?: number;
  /** Upper bound for one migration (ms, default 10 minutes). */
  migrateTimeoutMs?: number;
  /** SSH connect timeout (ms, default 20000). */
  connectTimeoutMs?: number;
  /** Seconds without peers and gateway before a host's watchdog powers off its HA VMs (default 20; tests shorten it). */
  isolationAfterS?: number;
}

export class KvmDriver implements HypervisorDriver {
  readonly hypervisor = 'KVM' as const;
  readonly capabilities = KVM_CAPABILITIES;
  readonly defaults: DriverDefaults = { diskFormat: 'qcow2', diskBus: 'virtio', nicAdapter: 'virtio' };
  /** rootDiskController, dataDiskController (virtio, scsi on virtio-scsi, sata, ide) and nicAdapter, honoured at define (disk-buses.ts). */
  readonly detailOptions = KVM_DETAIL_OPTIONS;
  readonly connectionForm = KVM_CONNECTION_FORM;
  /** One storage queue per host (user@host:port, libvirt URI): a reconnect's new session must
   *  not refresh the pool while the old one is still building a volume there. */
  private readonly poolQueues = new Map<string, PoolQueue>();

  constructor(private readonly driverOptions: KvmDriverOptions = {}) {}

  /** Hosts Kiln does not manage, for listVmsForImport and importVm importsource=external (import.ts). */
  readonly externalImport: ExternalImportFacet = { open: (spec) => openExternalKvm(spec, { connectTimeoutMs: this.driverOptions.connectTimeoutMs }) };

  validateConnection(input: ConnectionInput): { url: string; name: string } {
    return validateKvmConnection(input);
  }

  probeTrust(url: string): Promise<TrustAnchor> {
    return probeKvmTrust(url);
  }

  async connect(spec: HostConnectionSpec): Promise<KvmEndpoint> {
    return new KvmEndpoint(await this.connectKvm(spec));
  }

  /** Same as connect, typed as the KVM session (forwardVnc, migrationUri). */
  async connectKvm(spec: HostConnectionSpec): Promise<KvmSession> {
    const address = parseHostUrl(spec.url, spec.username);
    const options = this.hostOptions(spec.options ?? {});
    if (!spec.password && !spec.privateKey) throw new DriverError(`no password or private key for ${spec.url}`, 'invalid');
    const ssh = await SshConnection.open({
      host: address.host,
      port: address.port,
      username: address.username,
      password: spec.password,
      privateKey: spec.privateKey,
      pinnedHostKey: pinnedHostKey(spec),
      maxExecChannels: numberOption(options.maxExecChannels, 6),
      readyTimeoutMs: this.driverOptions.connectTimeoutMs,
    });
    const session = new KvmSession(spec.hostId, address, ssh, {
      pool: options.pool ?? 'kiln',
      domainType: options.domainType === 'kvm' ? 'kvm' : 'qemu',
      uri: options.uri ?? 'qemu:///system',
      migrationUri: options.migrationUri,
      migrateUnsafe: options.migrateUnsafe !== 'false',
      vnc: options.vnc !== 'false',
      serialLog: options.serialLog !== 'false',
      sharedPools: new Set((options.sharedPools ?? '').split(',').map((p) => p.trim()).filter(Boolean)),
      defaultNetwork: options.defaultNetwork,
      stopPollMs: this.driverOptions.stopPollMs ?? 500,
      migrateTimeoutMs: this.driverOptions.migrateTimeoutMs ?? 600_000,
      reconcileIntervalMs: this.driverOptions.reconcileIntervalMs ?? 5_000,
      isolationAfterS: this.driverOptions.isolationAfterS ?? ISOLATION_AFTER_S,
      isolationAddresses: isolationAddresses(options.isolationAddresses),
    }, this.poolQueue(address, options.uri ?? 'qemu:///system'));
    // Fail the connect (not the first operation) when libvirt itself does not answer.
    // Both reads side by side: the virsh shell's first batch (one round trip, virsh.ts).
    try {
      await Promise.all([session.virsh.run(['version', '--daemon'], { timeoutMs: 30_000 }), session.refine()]);
    } catch (error) {
      await session.close();
      throw error instanceof DriverError ? new DriverError(`libvirt on ${address.host} does not answer: ${error.message}`, 'unreachable') : error;
    }
    return session;
  }

  private poolQueue(address: { host: string; port: number; username: string }, uri: string): PoolQueue {
    const key = `${address.username}@${address.host}:${address.port} ${uri}`;
    let queue = this.poolQueues.get(key);
    if (!queue) this.poolQueues.set(key, (queue = new PoolQueue()));
    return queue;
  }

  private hostOptions(options: Record<string, string>): Record<string, string | undefined> {
    return { ...(this.driverOptions.defaults ?? {}), ...options };
  }
}

/** ssh://[user@]host[:port] → address; IPv6 hosts in brackets. */
export function parseHostUrl(url: string, username?: string): { host: string; port: number; username: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DriverError(`not a host URL: ${url} (expected ssh://host[:port])`, 'invalid');
  }
  if (parsed.protocol !== 'ssh:') throw new DriverError(`a KVM host URL must be ssh://host[:port], not ${url}`, 'invalid');
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new DriverError(`no host in ${url}`, 'invalid');
  const port = parsed.port ? Number(parsed.port) : 22;
  return { host, port, username: username || decodeURIComponent(parsed.username) || 'root' };
}

function pinnedHostKey(spec: HostConnectionSpec): string | undefined {
  if (!spec.pinnedTrust) return undefined;
  if (spec.pinnedTrust.kind !== 'ssh-host-key') throw new DriverError(`a KVM host is trusted by its SSH host key, not a ${spec.pinnedTrust.kind}`, 'invalid');
  return spec.pinnedTrust.fingerprint;
}

function numberOption(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}
