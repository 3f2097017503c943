/**
 * The console facet: AcquireTicket (webmks) for a running VM where the server supports it. A
 * server that does not (MethodNotFound, NotSupported) makes the facet absent for the endpoint,
 * with the reason, so the UI says so instead of showing a dead button.
 */
import { DriverError } from '../types.js';
import type { VsphereEndpoint } from './endpoint.js';
import { toDriverError } from './errors.js';
import { asNumber, asString, isVimFault, vm as vim, type MoRef } from './soap/index.js';

export interface ConsoleTicket {
  kind: 'webmks';
  /** wss:// URL to open (when the server gives one), else host/port. */
  url?: string;
  host?: string;
  port?: number;
  ticket: string;
  /** The console server's certificate thumbprint, as vCenter gives it. */
  sslThumbprint?: string;
}

export async function acquireConsole(ep: VsphereEndpoint, vm: MoRef): Promise<ConsoleTicket> {
  ep.assertReachable(`opening the console of ${vm.value}`);
  if (ep.console.supported === false) throw new DriverError(`console: ${ep.console.reason}`, 'unsupported');
  try {
    const t = await vim.acquireTicket(ep.client, vm, 'webmks');
    ep.console = { supported: true };
    return { kind: 'webmks', url: asString(t['url']), host: asString(t['host']), port: asNumber(t['port']), ticket: asString(t['ticket']) ?? '', sslThumbprint: asString(t['sslThumbprint']) };
  } catch (e) {
    if (isVimFault(e, 'MethodNotFound') || isVimFault(e, 'NotSupported') || isVimFault(e, 'NotImplemented')) {
      ep.console = { supported: false, reason: `${ep.version || 'this server'} does not hand out console tickets (AcquireTicket: ${(e as Error).message})` };
      throw new DriverError(`console: ${ep.console.reason}`, 'unsupported');
    }
    throw toDriverError(e, `opening the console of ${vm.value}`);
  }
}
