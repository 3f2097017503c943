import { randomUUID } from 'node:crypto';
import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';
import { now } from '../../db/database.js';
import { networkView } from '../../views.js';
import type { NetworkRow } from '../../vm/rows.js';
import { isUserDataProvider } from '../../metadata/provider.js';
import { parsePvlan, parseVlan } from '../../network-rules.js';

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

export default defineCommand({
  name: 'createNetwork',
  description: 'Creates a network: L2 (a VLAN, no addressing), Shared (a VLAN with an IP range Kiln hands out) or Isolated.',
  kind: 'sync',
  roles: ALL_ROLES,
  response: 'network',
  params: [
    { name: 'name', type: 'string', required: true, description: 'the name of the network' },
    { name: 'displaytext', type: 'string', description: 'the display text of the network' },
    { name: 'zoneid', type: 'uuid', required: true, description: 'the Zone ID for the network' },
    { name: 'guestiptype', type: 'string', description: 'Kiln: L2 (default), Shared or Isolated (CloudStack takes this from networkofferingid)' },
    { name: 'networkofferingid', type: 'uuid', description: 'accepted for compatibility; Kiln uses guestiptype' },
    { name: 'vlan', type: 'string', description: 'the ID or VID of the network' },
    { name: 'isolatedpvlan', type: 'string', description: 'the isolated private VLAN for this network (the secondary VLAN of vlan; L2 and Shared)' },
    { name: 'isolatedpvlantype', type: 'string', description: 'the isolated private VLAN type for this network: isolated (default), community or promiscuous' },
    { name: 'gateway', type: 'string', description: 'the gateway of the network (Shared)' },
    { name: 'netmask', type: 'string', description: 'the netmask of the network (Shared)' },
    { name: 'startip', type: 'string', description: 'the beginning IP address in the network IP range' },
    { name: 'endip', type: 'string', description: 'the ending IP address in the network IP range' },
    { name: 'userdataprovider', type: 'string', description: "Kiln: how the network's guests get metadata and user data: ConfigDrive or VirtualRouter (the metadata HTTP service); default the zone's kiln.userdata.provider, else ConfigDrive on L2 and VirtualRouter on others (CloudStack takes this from the network offering)" },
  ],
  handler({ engine, caller }, args) {
    const zone = byUuid<{ id: number }>(engine.db, 'zone', args.uuid('zoneid')!, 'zoneid');
    const type = (args.str('guestiptype') ?? 'L2').replace(/^./, (c) => c.toUpperCase());
    if (!['L2', 'Shared', 'Isolated'].includes(type)) throw ApiError.param('guestiptype: L2, Shared or Isolated');
    if (type !== 'Isolated' && caller.role === 'User') throw ApiError.denied('guestiptype: only admins create L2 and shared networks');
    const vlan = parseVlan(args.str('vlan'));
    const pvlan = parsePvlan(args.str('isolatedpvlan'), args.str('isolatedpvlantype'), vlan, type);
    for (const key of ['gateway', 'netmask', 'startip', 'endip']) {
      const v = args.str(key);
      if (v !== undefined && !IPV4.test(v)) throw ApiError.param(`${key}: "${v}" is not an IPv4 address`);
    }
    const provider = args.str('userdataprovider');
    if (provider !== undefined && !isUserDataProvider(provider)) throw ApiError.param(`userdataprovider: ConfigDrive or VirtualRouter, not "${provider}"`);
    if (type === 'Shared' && !(args.str('gateway') && args.str('netmask') && args.str('startip'))) throw ApiError.param('gateway, netmask and startip: a shared network needs its addressing');
    const id = engine.db
      .prepare(`INSERT INTO networks (uuid, name, display_text, zone_id, guest_type, vlan, gateway, netmask, start_ip, end_ip, account_id, domain_id, acl_type, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
      .run(randomUUID(), args.str('name'), args.str('displaytext') ?? args.str('name'), zone.id, type, vlan, args.str('gateway') ?? null, args.str('netmask') ?? null, args.str('startip') ?? null, args.str('endip') ?? args.str('startip') ?? null,
        type === 'Isolated' ? caller.accountId : null, caller.domainId, type === 'Isolated' ? 'Account' : 'Domain', now()).lastInsertRowid;
    if (pvlan) engine.db.prepare('UPDATE networks SET isolated_pvlan=?, isolated_pvlan_type=? WHERE id=?').run(pvlan.id, pvlan.type, id);
    if (provider !== undefined) engine.db.prepare('UPDATE networks SET userdata_provider=? WHERE id=?').run(provider, id);
    engine.events.record({ type: 'NETWORK.CREATE', description: `${type} network ${args.str('name')} created`, userId: caller.userId, accountId: caller.accountId, domainId: caller.domainId });
    return networkView(engine.db, engine.db.prepare('SELECT * FROM networks WHERE id=?').get(id) as NetworkRow);
  },
});
