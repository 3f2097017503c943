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
