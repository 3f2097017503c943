import { ApiError } from '../../registry/errors.js';
import { IPV4_RULE } from '../../registry/param-rules.js';
import { updateCommand } from './infra-edits.js';

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

export default updateCommand<PodRow>({
  kind: 'pod',
  name: 'updatePod',
  description: 'Updates a Pod: its name, allocation state (a Disabled pod takes no new VM), and its management IP range, gateway and netmask.',
  response: 'pod',
  nameParam: 'name',
  nameDescription: 'the name of the Pod',
  params: [
    { name: 'startip', type: 'string', rule: IPV4_RULE, description: 'the starting IP address for the Pod' },
    { name: 'endip', type: 'string', rule: IPV4_RULE, description: 'the ending IP address for the Pod' },
    { name: 'netmask', type: 'string', rule: IPV4_RULE, description: 'the netmask of the Pod' },
    { name: 'gateway', type: 'string', rule: IPV4_RULE, description: 'the gateway for the Pod' },
  ],
  taken: (db, pod, n) => (db.prepare('SELECT 1 FROM pods WHERE zone_id=? AND name=? AND id<>? AND removed IS NULL').get(pod.zone_id, n, pod.id) ? `the zone already has a pod named ${n}` : undefined),
  check({ db }, pod, args) {
    const value = (param: string, current: string | null) => (args.has(param) ? args.str(param) || null : current);
    const next = { gateway: value('gateway', pod.gateway), netmask: value('netmask', pod.netmask), start_ip: value('startip', pod.start_ip), end_ip: value('endip', pod.end_ip) };
    checkRange(next);
    return {
      write(changes) {
        if (!['gateway', 'netmask', 'startip', 'endip'].some((p) => args.has(p))) return;
        db.prepare('UPDATE pods SET gateway=?, netmask=?, start_ip=?, end_ip=? WHERE id=?').run(next.gateway, next.netmask, next.start_ip, next.end_ip, pod.id);
        changes.push(`range ${next.start_ip ?? ''}-${next.end_ip ?? ''} gateway ${next.gateway ?? ''} netmask ${next.netmask ?? ''}`);
      },
    };
  },
});
