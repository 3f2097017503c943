import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';
import { IPV4_RULE } from '../../registry/param-rules.js';
import { allocationStateParam, newName, updated } from './infra-edits.js';

interface PodRow { id: number; uuid: string; name: string; zone_id: number; gateway: string | null; netmask: string | null; start_ip: string | null; end_ip: string | null }

const toNumber = (ip: string) => ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);

/** CloudStack's checkIpRange for the pod as it would be: start before end, both in the gateway's subnet. */
function checkRange(pod: Pick<PodRow, 'gateway' | 'netmask' | 'start_ip' | 'end_ip'>): void {
  const { gateway, netmask, start_ip: start, end_ip: end } = pod;
  if (start && end && toNumber(start) > toNumber(end)) throw ApiError.param(`startip: ${start} comes after endip ${end}; the start IP address must have a lower value than the end IP address`);
  if (!gateway || !netmask) return;
  const mask = toNumber(netmask);
  if (!/^1*0*$/.test(mask.toString(2).padStart(32, '0'))) throw ApiError.param(`netmask: ${netmask} is not a netmask (its ones must come first)`);
  const subnet = (ip: string) => (toNumber(ip) & mask) >>> 0;
  for (const [param, ip] of [['startip', start], ['endip', end]] as const) {
    if (ip && subnet(ip) !== subnet(gateway)) throw ApiError.param(`${param}: ${ip} is not in the pod's subnet (gateway ${gateway}, netmask ${netmask})`);
  }
}

export default defineCommand({
  name: 'updatePod',
  description: 'Updates a Pod: its name, allocation state (a Disabled pod takes no new VM), and its management IP range, gateway and netmask.',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'pod',
  params: [
    { name: 'id', type: 'uuid', required: true, description: 'the ID of the Pod' },
    { name: 'name', type: 'string', description: 'the name of the Pod' },
    allocationStateParam('pod'),
    { name: 'startip', type: 'string', rule: IPV4_RULE, description: 'the starting IP address for the Pod' },
    { name: 'endip', type: 'string', rule: IPV4_RULE, description: 'the ending IP address for the Pod' },
    { name: 'netmask', type: 'string', rule: IPV4_RULE, description: 'the netmask of the Pod' },
    { name: 'gateway', type: 'string', rule: IPV4_RULE, description: 'the gateway for the Pod' },
  ],
  async handler({ engine, caller }, args) {
    const db = engine.db;
    const pod = byUuid<PodRow>(db, 'pod', args.uuid('id')!, 'id');
    const name = newName(args, 'name', 'pod', (n) => (db.prepare('SELECT 1 FROM pods WHERE zone_id=? AND name=? AND id<>? AND removed IS NULL').get(pod.zone_id, n, pod.id) ? `the zone already has a pod named ${n}` : undefined));
    const state = args.str('allocationstate') || undefined;
    const value = (param: string, current: string | null) => (args.has(param) ? args.str(param) || null : current);
    const next = { gateway: value('gateway', pod.gateway), netmask: value('netmask', pod.netmask), start_ip: value('startip', pod.start_ip), end_ip: value('endip', pod.end_ip) };
    checkRange(next);
    const changes: string[] = [];
    db.transaction(() => {
      if (name !== undefined && name !== pod.name) {
        db.prepare('UPDATE pods SET name=? WHERE id=?').run(name, pod.id);
        changes.push(`renamed to ${name}`);
      }
      if (state) {
        db.prepare('UPDATE pods SET allocation_state=? WHERE id=?').run(state, pod.id);
        changes.push(state);
      }
      if (['gateway', 'netmask', 'startip', 'endip'].some((p) => args.has(p))) {
        db.prepare('UPDATE pods SET gateway=?, netmask=?, start_ip=?, end_ip=? WHERE id=?').run(next.gateway, next.netmask, next.start_ip, next.end_ip, pod.id);
        changes.push(`range ${next.start_ip ?? ''}-${next.end_ip ?? ''} gateway ${next.gateway ?? ''} netmask ${next.netmask ?? ''}`);
      }
    })();
    return updated(engine, caller, 'pod', { id: pod.id, uuid: pod.uuid, name: name ?? pod.name, renamed: name !== undefined && name !== pod.name }, changes);
  },
});
