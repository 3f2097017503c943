/**
 * The 302 of xapi's upload handlers for an SR the receiving host does not reach, one piece for
 * both: PUT /import (import.ml) and PUT /import_raw_vdi (import_raw_vdi.ml). Each asks
 * Importexport.check_sr_availability (a PBD of the SR attached on this host) and, when it fails,
 * answers Importexport.return_302_redirect: the same path and query at the address of a host
 * that reaches the SR (find_host_for_sr), over the scheme the request came on; the caller's task
 * is left alone (the check runs in a task of its own), nothing of the body is read. The simulator
 * adds its hosts' one port (real xapi's Location has none: 443 or 80).
 *
 * A test's fault `PUT /import` or `PUT /import_raw_vdi` with `redirect` (an origin) answers the
 * next upload of that handler with a 302 there instead: a Location outside the pool.
 */
import type http from 'node:http';
import type { TLSSocket } from 'node:tls';
import { hostsSeeing } from './fixture.js';
import type { Sim } from './sim.js';

function redirect(req: http.IncomingMessage, res: http.ServerResponse, origin: string): true {
  req.resume();
  res.writeHead(302, { location: new URL(req.url ?? '/', origin).toString(), connection: 'close' });
  res.end();
  return true;
}

/** Answers the 302 when HANDLER on HOST must send the upload of SR elsewhere; true when it did. */
export function redirectForSr(sim: Sim, handler: 'PUT /import' | 'PUT /import_raw_vdi', host: string, sr: string, req: http.IncomingMessage, res: http.ServerResponse): boolean {
  const fault = sim.takeFault(handler)?.redirect;
  if (fault) return redirect(req, res, fault);
  if (sim.store.rec('SR', sr)['shared'] === true || hostsSeeing(sim, sr).includes(host)) return false;
  const to = hostsSeeing(sim, sr)[0];
  const address = to ? (sim.store.rec('host', to)['address'] as string) : '';
  const scheme = (req.socket as TLSSocket).encrypted ? 'https' : 'http';
  return redirect(req, res, `${scheme}://${address}:${(req.socket.localPort ?? 443).toString()}`);
}
