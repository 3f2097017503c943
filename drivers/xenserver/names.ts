/**
 * Names and URLs as xapi takes them. A pool is added by its master, https://MASTER[:port]
 * (CloudStack's addCluster url for XenServer). A VM's name_label is Kiln's internal name (R3);
 * JSON carries any text safely, but other clients of the same pool read it over XML-RPC, which
 * cannot carry control characters, so a name with one is refused rather than stored.
 */
import { DriverError } from '../types.js';

export interface PoolLocation {
  /** https://host[:port] */
  url: string;
  host: string;
  port: number;
}

export function parsePoolUrl(url: string): PoolLocation {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`not a URL: ${JSON.stringify(url)}; expected https://MASTER`);
  }
  if (u.protocol !== 'https:') throw new Error(`a XenServer pool is reached as https://MASTER[:port], not ${u.protocol}`);
  if (u.username || u.password) throw new Error('credentials go in username and password, not in the URL');
  if (u.pathname !== '/' && u.pathname !== '') throw new Error(`a XenServer URL names the pool master only, without a path: ${url}`);
  const port = u.port ? Number(u.port) : 443;
  return { url: `https://${u.host}`, host: u.hostname.replace(/^\[|\]$/g, ''), port };
}

/** The longest name_label Kiln writes (xapi has no limit of its own; XenCenter shows 255). */
export const MAX_XAPI_NAME = 255;

/** A name Kiln writes into a name_label or name_description: refused with 'invalid' when no XML-RPC client could read it back. */
export function checkXapiText(text: string, what: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.test(text)) throw new DriverError(`${what}: control characters cannot be stored in xapi (its XML-RPC clients could not read them back)`, 'invalid');
  if (text.length > MAX_XAPI_NAME) throw new DriverError(`${what}: at most ${MAX_XAPI_NAME} characters (${text.length} given)`, 'invalid');
  return text;
}

export function checkVmName(name: string): string {
  if (name.length === 0) throw new DriverError('a VM name cannot be empty', 'invalid');
  return checkXapiText(name, `VM name ${JSON.stringify(name.slice(0, 40))}`);
}
