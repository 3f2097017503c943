/** The simulator's modules beyond sessions and hosts, registered and seeded in one place. */
import { registerEvents } from './events.js';
import type { Fixture, Seeded } from './fixture.js';
import { registerGpu, seedGpus } from './gpu.js';
import { registerHa } from './ha.js';
import type { Sim } from './sim.js';
import { registerStorage } from './storage.js';
import { registerTasks } from './tasks.js';
import { afterVmSet, registerVdi, registerVm, seedVms } from './vm.js';

export function registerModules(sim: Sim): void {
  registerTasks(sim);
  registerEvents(sim);
  registerGpu(sim);
  registerVm(sim);
  registerVdi(sim);
  registerStorage(sim);
  registerHa(sim);
  sim.setHooks.push((cls, ref) => afterVmSet(sim, cls, ref));
}

export function seedModules(sim: Sim, seeded: Seeded, fixture: Fixture): void {
  seedGpus(sim, seeded, fixture);
  seedVms(sim, seeded, fixture);
}
