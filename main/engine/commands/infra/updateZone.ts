import { isIPv4, isIPv6 } from 'node:net';
import { ApiError } from '../../registry/errors.js';
import { IPV4_RULE } from '../../registry/param-rules.js';
import { updateCommand } from './infra-edits.js';

interface ZoneRow { id: number; uuid: string; name: string }

/**
 * The zone columns updateZone sets from a parameter of the same meaning; an empty value clears one
 * (CloudStack: "empty string will update … with NULL"). CHECK refuses a value (the 431's words).
 */
const COLUMNS: { param: string; column: string; check?: (value: string) => string | undefined }[] = [
  { param: 'dns1', column: 'dns1' },
  { param: 'dns2', column: 'dns2' },
  { param: 'internaldns1', column: 'internal_dns1' },
  { param: 'internaldns2', column: 'internal_dns2' },
  { param: 'ip6dns1', column: 'ip6_dns1', check: (v) => (isIPv6(v) ? undefined : 'is not an IPv6 address') },
  { param: 'ip6dns2', column: 'ip6_dns2', check: (v) => (isIPv6(v) ? undefined : 'is not an IPv6 address') },
  { param: 'guestcidraddress', column: 'guest_cidr', check: cidrRefusal },
  { param: 'domain', column: 'domain' },
];

/** CloudStack's NetUtils.isValidIp4Cidr, and the address is the network's own (no host bits set). */
function cidrRefusal(value: string): string | undefined {
  const [address, bits, ...rest] = value.split('/');
  const prefix = Number(bits);
  if (rest.length || !address || !isIPv4(address) || bits === undefined || !/^\d{1,2}$/.test(bits) || prefix > 32) return 'is not an IPv4 CIDR (address/prefix length 0-32)';
  const n = address.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return ((n & mask) >>> 0) === n ? undefined : `has host bits set (the network of /${prefix} is ${[24, 16, 8, 0].map((s) => (((n & mask) >>> 0) >>> s) & 255).join('.')}/${prefix})`;
}

export default updateCommand<ZoneRow>({
  kind: 'zone',
  name: 'updateZone',
  description:
    "Updates a Zone: its name, allocation state (a Disabled zone takes no new VM), DNS servers (IPv4, IPv6, internal), network domain, guest CIDR, sort key (listZones' order) and details (merged into the zone's, as CloudStack's editZone does: a key given is set, the others are kept; cleanupdetails=true removes them all, removeResourceDetail resourcetype=Zone one of them). CloudStack's ispublic, dhcpprovider, localstorageenabled and dnssearchorder are not taken: Kiln has no private zones nor DHCP providers to choose, and uses its hosts' local pools wherever they are.",
  response: 'zone',
  nameParam: 'name',
  nameDescription: 'the name of the Zone',
  params: [
    { name: 'dns1', type: 'string', rule: IPV4_RULE, description: 'the first DNS for the Zone' },
    { name: 'dns2', type: 'string', rule: IPV4_RULE, description: 'the second DNS for the Zone' },
    { name: 'internaldns1', type: 'string', rule: IPV4_RULE, description: 'the first internal DNS for the Zone' },
    { name: 'internaldns2', type: 'string', rule: IPV4_RULE, description: 'the second internal DNS for the Zone' },
    { name: 'ip6dns1', type: 'string', description: 'the first DNS for IPv6 network in the Zone' },
    { name: 'ip6dns2', type: 'string', description: 'the second DNS for IPv6 network in the Zone' },
    { name: 'guestcidraddress', type: 'string', description: 'the guest CIDR address for the Zone (an IPv4 network, e.g. 10.1.0.0/16; empty clears)' },
    { name: 'domain', type: 'string', description: 'Network domain name for the networks in the zone; empty string will update domain with NULL value' },
    { name: 'sortkey', type: 'integer', description: 'sort key of the zone: listZones lists zones by it, then by creation' },
    { name: 'details', type: 'map', description: "the details for the Zone, as key/value pairs: each key given is set, the zone's other details are kept (CloudStack's editZone merges them). To remove one, removeResourceDetail resourcetype=Zone key=…; all, cleanupdetails=true" },
    {
      name: 'cleanupdetails',
      type: 'boolean',
      description: "true removes all the zone's details (the way updateVirtualMachine's cleanupdetails does; details only adds or sets); not with details",
    },
  ],
  taken: (db, zone, n) => (db.prepare('SELECT 1 FROM zones WHERE name=? AND id<>? AND removed IS NULL').get(n, zone.id) ? `a zone named ${n} already exists` : undefined),
  check({ db }, zone, args) {
    for (const { param, check } of COLUMNS) {
      const value = args.str(param);
      const refusal = value && check ? check(value) : undefined;
      if (refusal) throw ApiError.param(`${param}: "${value}" ${refusal}`);
    }
    const details = args.details('details');
    if (details && Object.keys(details).some((key) => key.trim() === '')) throw ApiError.param('details: a detail needs a key');
    const cleanup = args.bool('cleanupdetails') === true;
    if (cleanup && details) throw ApiError.param('cleanupdetails: true removes all the details; give it or details, not both');
    return {
      write(changes) {
        for (const { param, column } of COLUMNS) {
          if (!args.has(param)) continue;
          db.prepare(`UPDATE zones SET ${column}=? WHERE id=?`).run(args.str(param) || null, zone.id);
          changes.push(`${param} ${args.str(param) || 'cleared'}`);
        }
        const sortKey = args.int('sortkey');
        if (sortKey !== undefined) {
          db.prepare('UPDATE zones SET sort_key=? WHERE id=?').run(sortKey, zone.id);
          changes.push(`sortkey ${sortKey}`);
        }
        if (details) {
          // CloudStack's editZone: the zone's details, then those given over them (putAll twice).
          const before = db.prepare('SELECT details FROM zones WHERE id=?').pluck().get(zone.id) as string | null;
          const merged = { ...(before ? (JSON.parse(before) as Record<string, string>) : {}), ...details };
          db.prepare('UPDATE zones SET details=? WHERE id=?').run(JSON.stringify(merged), zone.id);
          changes.push(`details ${Object.keys(details).join(', ')} set`);
        }
        if (cleanup) {
          db.prepare(`UPDATE zones SET details='{}' WHERE id=?`).run(zone.id);
          changes.push('details cleared');
        }
      },
    };
  },
});
