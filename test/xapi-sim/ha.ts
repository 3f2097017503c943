/**
 * A host failure and pool HA (the issue's "platform HA"): the host stops being live, its VMs'
 * domains are gone, and with pool.ha_enabled xapi itself restarts every VM whose
 * ha_restart_priority is "restart" on another host that can take it; the others end Halted.
 */
import type { Sim } from './sim.js';
import { XapiFailure } from './wire.js';
import { bootOn, canBootHere, haltDomain, refreshAllowed } from './vm.js';
import { refreshMemory } from './host.js';

/**
 * Returns the VMs HA restarted, with the host each now runs on. With restartDelayMs the
 * restarts come that much later than the halts (real xapi restarts seconds after it declares
 * the host dead), so an event.from client sees the halt and the restart in separate batches.
 */
export async function crashHost(sim: Sim, host: string, restartDelayMs = 0): Promise<Array<{ vm: string; host: string }>> {
  const { store } = sim;
  store.update('host_metrics', store.rec('host', host)['metrics'] as string, { live: false });
  const ha = store.rec('pool', sim.pool)['ha_enabled'] === true;
  const protectedVms: string[] = [];
  for (const vm of [...(store.rec('host', host)['resident_VMs'] as string[])]) {
    if (store.rec('VM', vm)['is_control_domain']) continue;
    haltDomain(sim, vm, 'Halted');
    refreshAllowed(sim, vm);
    if (ha && store.rec('VM', vm)['ha_restart_priority'] === 'restart') protectedVms.push(vm);
  }
  refreshMemory(sim);
  if (restartDelayMs > 0 && protectedVms.length > 0) await sim.sleep(restartDelayMs);
  const restarted: Array<{ vm: string; host: string }> = [];
  for (const vm of protectedVms) {
    // Unless someone started it meanwhile.
    if (!store.has('VM', vm) || store.rec('VM', vm)['power_state'] !== 'Halted') continue;
    const target = store.all('host').map((h) => h.ref).find((h) => canBootHere(sim, vm, h));
    if (!target) continue;
    bootOn(sim, vm, target, false);
    refreshAllowed(sim, vm);
    restarted.push({ vm, host: target });
  }
  refreshMemory(sim);
  return restarted;
}

export function registerHa(sim: Sim): void {
  const { api, store } = sim;
  api.def('pool.enable_ha', 'heartbeat_srs:set configuration:map', (_c, [srs, config]) => {
    if (store.rec('pool', sim.pool)['ha_enabled']) throw new XapiFailure('HA_IS_ENABLED', []);
    store.update('pool', sim.pool, { ha_enabled: true, ha_statefiles: (srs as unknown[]).map(String), ha_configuration: config });
    return '';
  });
  api.def('pool.disable_ha', '', () => {
    if (!store.rec('pool', sim.pool)['ha_enabled']) throw new XapiFailure('HA_NOT_ENABLED', []);
    store.update('pool', sim.pool, { ha_enabled: false, ha_statefiles: [], ha_configuration: {} });
    return '';
  });
  api.def('VM.set_ha_restart_priority', 'self:ref value:string', (_c, [vm, value]) => {
    if (!['', 'restart', 'best-effort'].includes(value as string)) throw new XapiFailure('INVALID_VALUE', ['ha_restart_priority', value as string]);
    store.update('VM', store.row('VM', vm).ref, { ha_restart_priority: value, ha_always_run: value === 'restart' });
    return '';
  });
}
