/**
 * The metadata HTTP service for guests on remote hosts (R62): a host whose session has the
 * metadata relay facet (a KVM host: an SSH remote forward, drivers/kvm/metadata-forward.ts) listens
 * on its own address on each guest network of its zone that uses this service (the network's
 * gateway, where cloud-init's CloudStack datasource looks last and CloudStack's virtual router
 * stands), ports 80 and 8080, and hands Kiln each connection with the guest's source address as
 * the host saw it. The service then identifies the guest by that address, among the networks of
 * that gateway only, exactly as for a guest that reaches Kiln directly.
 *
 * Opened when a host's session opens (VMs already running after a Kiln restart) and before each
 * VM start (a network created since); a host that does not have a gateway's address refuses that
 * listener, which is logged once per session and otherwise harmless (its guests are elsewhere).
 */
import type { HostSession, RelayListener } from '../../../drivers/types.js';
import type { Engine } from '../engine.js';
import { networkUserDataProvider } from './provider.js';

interface RelayNetworkRow {
  id: number;
  zone_id: number;
  guest_type: string;
  userdata_provider: string | null;
  gateway: string;
}

/** Guest networks of the zone served by the HTTP service, by gateway address. */
export function relayGateways(engine: Pick<Engine, 'db' | 'settings'>, zoneId: number): Map<string, number[]> {
  const rows = engine.db
    .prepare(`SELECT id, zone_id, guest_type, userdata_provider, gateway FROM networks WHERE zone_id=? AND removed IS NULL AND guest_type<>'L2' AND gateway IS NOT NULL AND gateway<>''`)
    .all(zoneId) as RelayNetworkRow[];
  const byGateway = new Map<string, number[]>();
  for (const row of rows) {
    if (networkUserDataProvider(engine.settings, row) !== 'VirtualRouter') continue;
    byGateway.set(row.gateway, [...(byGateway.get(row.gateway) ?? []), row.id]);
  }
  return byGateway;
}

const refusedOnce = new WeakMap<HostSession, Set<string>>();

/** Opens the host's listeners for the zone's guest networks (idempotent); a no-op for a host without the facet. */
export async function relayMetadataThrough(engine: Engine, session: HostSession, zoneId: number): Promise<void> {
  const relay = session.metadataRelay;
  if (!relay) return;
  const gateways = relayGateways(engine, zoneId);
  const listeners: RelayListener[] = [...gateways.keys()].flatMap((address) => [
    { address, port: 80, kind: 'metadata' as const },
    { address, port: 8080, kind: 'password' as const },
  ]);
  if (listeners.length === 0) return;
  const failed = await relay.ensure(listeners, (stream, { guestAddress, listener }) => {
    // Read the gateway's networks now, not when the listener opened: a network removed since serves nobody.
    const networkIds = relayGateways(engine, zoneId).get(listener.address) ?? [];
    engine.metadata.acceptForwarded(stream, guestAddress, listener.kind, networkIds);
  });
  const logged = refusedOnce.get(session) ?? new Set<string>();
  refusedOnce.set(session, logged);
  for (const { listener, reason } of failed) {
    const key = `${listener.address}:${listener.port}`;
    if (logged.has(key)) continue;
    logged.add(key);
    engine.log.info(`metadata for guests not relayed on host ${session.hostId} at ${key}: ${reason}`);
  }
}

/** Relays through every host as its session opens. */
export function relayMetadataOnConnect(engine: Engine): void {
  engine.hosts.events.on('session-opened', ({ hostId, session }: { hostId: number; session: HostSession }) => {
    const zone = engine.db.prepare('SELECT zone_id FROM hosts WHERE id=?').pluck().get(hostId) as number | undefined;
    if (zone === undefined) return;
    relayMetadataThrough(engine, session, zone).catch((error: unknown) => engine.log.warn(`metadata relay on host ${hostId}: ${error instanceof Error ? error.message : String(error)}`));
  });
}
