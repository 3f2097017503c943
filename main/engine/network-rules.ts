/**
 * Rules for a network's input that more than one command applies (createNetwork, and
 * createNetworksFromCsv checking every row before it creates any), so both refuse the same way.
 */
import { ApiError } from './registry/errors.js';

/** A VLAN as createNetwork takes it ("101" or "vlan://101"); undefined is untagged (null). PARAM names it in the 431. */
export function parseVlan(text: string | undefined, param = 'vlan'): number | null {
  if (text === undefined) return null;
  const vlanText = text.trim().replace(/^vlan:\/\//, '');
  const vlan = Number(vlanText);
  if (!/^\d+$/.test(vlanText) || vlan < 1 || vlan > 4094) throw ApiError.param(`${param}: a VLAN id from 1 to 4094, not ${JSON.stringify(text)}`);
  return vlan;
}

export const PVLAN_TYPES = ['isolated', 'community', 'promiscuous'] as const;
export type PvlanType = (typeof PVLAN_TYPES)[number];

/**
 * createNetwork's isolatedpvlan / isolatedpvlantype as CloudStack takes them: the secondary VLAN of
 * a private VLAN needs a primary VLAN and only L2 or shared networks have one; the type defaults to
 * isolated, a promiscuous port's secondary is its primary (and may be left out), and only a
 * promiscuous one may equal the primary. Returns null for a plain VLAN.
 */
export function parsePvlan(text: string | undefined, typeText: string | undefined, vlan: number | null, guestType: string): { id: number; type: PvlanType } | null {
  if (text === undefined && typeText === undefined) return null;
  const type = (typeText?.trim().toLowerCase() ?? 'isolated') as PvlanType;
  if (!PVLAN_TYPES.includes(type)) throw ApiError.param(`isolatedpvlantype: isolated, community or promiscuous, not ${JSON.stringify(typeText)}`);
  if (guestType === 'Isolated') throw ApiError.param('isolatedpvlan: a private VLAN is for L2 and shared networks, not Isolated ones');
  if (vlan === null) throw ApiError.param('isolatedpvlan: a private VLAN needs the primary VLAN in vlan');
  if (text === undefined) {
    if (type !== 'promiscuous') throw ApiError.param(`isolatedpvlan: an ${type} private VLAN needs its secondary VLAN id`);
    return { id: vlan, type };
  }
  const id = parseVlan(text, 'isolatedpvlan');
  if (id === vlan && type !== 'promiscuous') throw ApiError.param(`isolatedpvlan: the secondary VLAN ${id} is the primary VLAN; only a promiscuous private VLAN has the same id`);
  if (id !== vlan && type === 'promiscuous') throw ApiError.param(`isolatedpvlan: a promiscuous private VLAN's id is its primary VLAN ${vlan}, not ${id}`);
  return { id: id!, type };
}
