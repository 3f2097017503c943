/**
 * Bytes sent into an SR through one of xapi's upload handlers: PUT /import (an XVA, import.ml) and
 * PUT /import_raw_vdi (a Kiln image into its VDI, import_raw_vdi.ml). Both ask whether the host
 * the request reached sees the SR (Importexport.check_sr_availability) and, when it does not (a
 * member's local SR reached through the master), answer 302 to a host that does
 * (return_302_redirect: the same path and query at that host's address). Kiln follows that one
 * hop, over the pool's pinned agent, only to the pool host that reaches the SR.
 *
 * Both handlers answer before they read the body (the 200 with the task-id, or the 302), so the
 * request goes headers first (transport.put headersFirst): a redirect, followed or refused, costs
 * no byte of the upload.
 */
import type { Readable } from 'node:stream';
import { DriverError, type OperationOptions } from '../types.js';
import type { XenPool } from './pool.js';
import { hostReachesSr } from './sr-scope.js';
import type { XmlRpcValue } from './xapi/task-result.js';
import type { XRef } from './xapi/records.js';

/** A host address as URL.hostname writes it: IPv6 in brackets, names in lower case. */
const urlHostname = (address: string): string => (address.includes(':') && !address.startsWith('[') ? `[${address}]` : address).toLowerCase();

/**
 * Where xapi's 302 from an upload into SR may send it: the pool host that reaches SR, at the
 * pool's scheme and port (a Location without a port has the pool's own, as a console location
 * does). Anything else is refused before a byte goes there: a host outside the pool, another
 * scheme or port, a host that does not reach the SR. Its connection is pinned by the pool's trust
 * (transport.put).
 */
export function srRedirectOrigin(pool: XenPool, sr: XRef, location: string): URL {
  let to: URL;
  try {
    to = new URL(location);
  } catch {
    throw new DriverError('xapi redirected the import to a Location that is not a URL; Kiln does not follow it', 'failed');
  }
  // Named without its query: that holds the session.
  const refuse = (why: string): never => {
    throw new DriverError(`xapi redirected the import to ${to.origin}${to.pathname}, which Kiln does not follow: ${why}`, 'failed');
  };
  const base = pool.client.baseUrl;
  const host = pool.inventory.all('host').find(([, h]) => urlHostname(h.address) === to.hostname.toLowerCase());
  if (!host) refuse('it is no host of this pool');
  if (to.protocol !== base.protocol) refuse(`the pool is reached over ${base.protocol.replace(':', '')}`);
  if ((to.port || base.port) !== base.port) refuse(`the pool's hosts answer on port ${base.port || '443'}`);
  if (!hostReachesSr(pool, sr, host![0])) refuse(`host ${host![1].name_label} does not reach storage repository ${pool.inventory.get('SR', sr)?.name_label ?? sr}`);
  const origin = new URL(base.origin);
  origin.hostname = to.hostname;
  return origin;
}

/**
 * PUT of LENGTH bytes (OPEN gives them, once per attempt) to xapi's upload handler PATH for SR,
 * under a task of Kiln's (client.upload), following the handler's 302 to the host that reaches
 * SR (srRedirectOrigin). Resolves to the task's result.
 */
export function uploadToSr(pool: XenPool, sr: XRef, path: '/import' | '/import_raw_vdi', query: Record<string, string>, open: () => Readable, length: number, options: OperationOptions & { label: string }): Promise<XmlRpcValue> {
  return pool.client.upload(path, query, open, length, { ...options, headersFirst: true, redirect: (location) => srRedirectOrigin(pool, sr, location) });
}
