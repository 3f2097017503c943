/**
 * The pool, host and memory model (§6.6): free memory is the host's total less its own overhead
 * and, for every resident or scheduled VM (the control domain too), memory_target (else dynamic_min) plus the
 * VM's overhead; host_metrics.memory_free is kept equal to host.compute_free_memory.
 */
import type { Sim } from './sim.js';
import { XapiFailure, XDate } from './wire.js';

export function freeMemory(sim: Sim, host: string): number {
  const h = sim.store.rec('host', host);
  const total = sim.store.rec('host_metrics', h['metrics'])['memory_total'] as number;
  let used = h['memory_overhead'] as number;
  // A VM being started here (scheduled_to_be_resident_on) already holds its memory, as in xapi.
  for (const row of sim.store.all('VM')) {
    const r = row.rec;
    if (r['resident_on'] !== host && r['scheduled_to_be_resident_on'] !== host) continue;
    const target = (r['memory_target'] as number) || (r['memory_dynamic_min'] as number);
    used += target + (r['memory_overhead'] as number);
  }
  return total - used;
}

/** Brings every host's metrics up to date (after a start, stop, migration or memory change). */
export function refreshMemory(sim: Sim): void {
  for (const row of sim.store.all('host')) {
    sim.store.update('host_metrics', row.rec['metrics'] as string, { memory_free: freeMemory(sim, row.ref) });
  }
}

export function hostIsLive(sim: Sim, host: string): boolean {
  return sim.store.rec('host_metrics', sim.store.rec('host', host)['metrics'])['live'] === true;
}

export function registerHost(sim: Sim): void {
  const { api, store } = sim;
  api.def('host.compute_free_memory', 'host:ref', (_c, [host]) => {
    store.row('host', host);
    return freeMemory(sim, host as string);
  });
  api.def('host.enable', 'host:ref', (_c, [host]) => {
    store.update('host', store.row('host', host).ref, { enabled: true });
    return '';
  });
  api.def('host.disable', 'host:ref', (_c, [host]) => {
    store.update('host', store.row('host', host).ref, { enabled: false });
    return '';
  });
  api.def('host.get_servertime', 'host:ref', (_c, [host]) => {
    store.row('host', host);
    return new XDate(new Date());
  });
  // The destination map of a migrate_send (xapi_vm_migrate.ml migrate_receive): this host, the
  // pool master's URL and the caller's own session there, which a source pool uses to move the VM in.
  api.def('host.migrate_receive', 'host:ref network:ref options:map', (ctx, [host, network]) => {
    const h = store.rec('host', host);
    store.row('network', network);
    if (!hostIsLive(sim, host as string)) throw new XapiFailure('HOST_NOT_LIVE', []);
    const master = sim.urlOf(store.rec('host', sim.master)['address'] as string);
    return { host: host as string, xenops: `http://${h['address'] as string}/services/xenops`, SM: `http://${h['address'] as string}/services/SM`, master: `${master}/`, session_id: ctx.session ?? 'OpaqueRef:NULL' };
  });
}
