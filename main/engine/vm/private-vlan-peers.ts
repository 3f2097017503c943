/**
 * Private VLANs across the hosts of a zone. A driver that isolates private-VLAN ports on each host
 * (KVM: ebtables on the host's bridge) sees the frames of VMs on other hosts come in over the
 * uplink with nothing saying what they are; so every host of the zone is told every private-VLAN
 * port of the zone by MAC and role (PrivateVlanPeersFacet), and filters those frames itself. The
 * engine tells them again whenever the set changes or a host may have lost it:
 *
 *  - before a VM with a private-VLAN NIC starts (deploy, start, HA restart) and before one moves
 *    to another host: the host it runs on must know its peers (else the start or move fails,
 *    settled), the other hosts should know it (best effort: an unreachable one is told when it
 *    connects again);
 *  - after a VM leaves (expunge, unmanage, a NIC removed) or joins without a start (an import,
 *    a NIC added);
 *  - when a host's session opens (a reconnect, the engine's restart: a rebooted host has lost it).
 *
 * The whole set of the zone is sent each time (a few MACs per VLAN), one publication at a time per
 * host, each reading the database afresh when its turn comes, so the last one a host got is never
 * an older view than an earlier one.
 */
import type { Engine } from '../engine.js';
import type { HostSession, PrivateVlanPeer } from '../../../drivers/types.js';
import { nicPrivateVlan } from './private-vlan-nics.js';

type ZonePeers = { primaryVlan: number; peers: PrivateVlanPeer[] }[];

/** Every private-VLAN port of the zone's VMs by primary VLAN; primaries whose networks have no port left are listed empty (so hosts forget them). */
export function zonePrivateVlanPeers(engine: Engine, zoneId: number): ZonePeers {
  const primaries = engine.db.prepare('SELECT DISTINCT vlan FROM networks WHERE zone_id=? AND isolated_pvlan IS NOT NULL AND vlan IS NOT NULL ORDER BY vlan').pluck().all(zoneId) as number[];
  const rows = engine.db
    .prepare(
      `SELECT n.mac_address, w.name AS network_name, w.vlan, w.isolated_pvlan, w.isolated_pvlan_type
         FROM nics n JOIN networks w ON w.id=n.network_id JOIN vm_instances v ON v.id=n.vm_id
        WHERE w.zone_id=? AND w.isolated_pvlan IS NOT NULL AND n.removed IS NULL AND v.removed IS NULL
        ORDER BY n.mac_address`,
    )
    .all(zoneId) as { mac_address: string; network_name: string; vlan: number | null; isolated_pvlan: number | null; isolated_pvlan_type: string | null }[];
  return primaries.map((primaryVlan) => ({
    primaryVlan,
    peers: rows.flatMap((r) => {
      const role = r.vlan === primaryVlan ? nicPrivateVlan(r).privateVlan : undefined;
      return role ? [{ macAddress: r.mac_address, ...role }] : [];
    }),
  }));
}

/** A session that can be told (capability privateVlans and the facet). */
function peersFacet(session: HostSession) {
  return session.capabilities.privateVlans ? session.privateVlanPeers : undefined;
}

const queues = new WeakMap<Engine, Map<number, Promise<void>>>();

/** Runs WORK after the host's earlier publications (one at a time per host, hosts side by side). */
function inHostQueue(engine: Engine, hostId: number, work: () => Promise<void>): Promise<void> {
  const byHost = queues.get(engine) ?? new Map<number, Promise<void>>();
  queues.set(engine, byHost);
  const next = (byHost.get(hostId) ?? Promise.resolve()).then(work);
  const settled = next.catch(() => undefined);
  byHost.set(hostId, settled);
  void settled.then(() => {
    if (byHost.get(hostId) === settled) byHost.delete(hostId);
  });
  return next;
}

/** How long a host other than the required one gets to take a publication before the caller goes on without it. */
export const PEER_ANSWER_MS = 5_000;

/** A port about to join (a NIC being plugged into a running VM): told to the hosts before its row exists. */
export interface JoiningPeer extends PrivateVlanPeer {
  primaryVlan: number;
}

/**
 * Tells the zone's Up hosts (ONLY: just that one) every private-VLAN port of the zone (and JOINING),
 * each host in its turn with the database as it is then. REQUIRED: the host that must have it
 * (told even if not marked Up), whose failure is thrown. Every other host gets PEER_ANSWER_MS: an
 * Up host that went silent (its link cut, say) must not hold up a start on another host. Its
 * failure or silence is logged and recorded as an event naming it; it is told again when its
 * session opens, and its queue moves on (a late answer carries a view no newer than the next one).
 */
export async function publishPrivateVlanPeers(engine: Engine, zoneId: number, options: { required?: number; only?: number; joining?: JoiningPeer } = {}): Promise<void> {
  const hosts = engine.db.prepare('SELECT id, uuid, name, state FROM hosts WHERE zone_id=? AND removed IS NULL ORDER BY id').all(zoneId) as { id: number; uuid: string; name: string; state: string }[];
  const targets = hosts.filter((h) => (options.only === undefined ? h.state === 'Up' || h.id === options.required : h.id === options.only));
  await Promise.all(
    targets.map((host) => {
      const publish = async () => {
        const vlans = withJoining(zonePrivateVlanPeers(engine, zoneId), options.joining);
        if (vlans.length === 0) return;
        await peersFacet(await engine.hosts.session(host.id))?.publish(vlans);
      };
      return inHostQueue(engine, host.id, host.id === options.required ? publish : () => withinBound(publish(), PEER_ANSWER_MS, `host ${host.name} did not answer within ${PEER_ANSWER_MS / 1000} s`)).catch((error: unknown) => {
        if (host.id === options.required) throw error;
        const why = error instanceof Error ? error.message : String(error);
        engine.log.warn(`host ${host.name} was not told the private-VLAN ports of its zone (it is told again when it connects): ${why}`);
        engine.events.record({
          type: 'HOST.PRIVATEVLAN.UPDATE', level: 'WARN', resourceType: 'Host', resourceUuid: host.uuid,
          description: `host ${host.name} was not told the zone's private-VLAN ports (${why}); it is told when its session opens again`,
        });
      });
    }),
  );
}

function withJoining(vlans: ZonePeers, joining: JoiningPeer | undefined): ZonePeers {
  if (!joining) return vlans;
  const { primaryVlan, ...peer } = joining;
  const listed = vlans.some((v) => v.primaryVlan === primaryVlan) ? vlans : [...vlans, { primaryVlan, peers: [] }];
  return listed.map((v) => (v.primaryVlan === primaryVlan && !v.peers.some((p) => p.macAddress === peer.macAddress) ? { primaryVlan, peers: [...v.peers, peer] } : v));
}

/** WORK, or a rejection with MESSAGE after MS (WORK itself goes on: an SSH command cannot be called back). */
function withinBound(work: Promise<void>, ms: number, message: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  work.catch(() => undefined);
  return Promise.race([work, bound]).finally(() => clearTimeout(timer));
}

/** The same, best effort for every host: after a VM left or joined without starting. */
export async function republishPrivateVlanPeers(engine: Engine, zoneId: number): Promise<void> {
  await publishPrivateVlanPeers(engine, zoneId).catch((error: unknown) => engine.log.warn(`private-VLAN ports of zone ${zoneId}: ${error instanceof Error ? error.message : String(error)}`));
}

/** Whether the VM has a NIC on a private-VLAN network (only those VMs' moves concern the peers). */
export function onPrivateVlan(engine: Engine, vmId: number): boolean {
  return engine.db.prepare('SELECT 1 FROM nics n JOIN networks w ON w.id=n.network_id WHERE n.vm_id=? AND n.removed IS NULL AND w.isolated_pvlan IS NOT NULL AND w.vlan IS NOT NULL').get(vmId) !== undefined;
}

/** A host whose session opens is told at once: a rebooted host, or the engine's restart, has lost what it knew. */
export function publishPrivateVlanPeersOnConnect(engine: Engine): void {
  engine.hosts.events.on('session-opened', ({ hostId, session }: { hostId: number; session: HostSession }) => {
    if (!peersFacet(session)) return;
    const zone = engine.db.prepare('SELECT zone_id FROM hosts WHERE id=?').pluck().get(hostId) as number | undefined;
    if (zone !== undefined) void publishPrivateVlanPeers(engine, zone, { only: hostId }).catch(() => undefined);
  });
}
