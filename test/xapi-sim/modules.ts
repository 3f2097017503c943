/** The simulator's modules beyond sessions and hosts, registered and seeded in one place. */
import { registerEvents } from './events.js';
import type { Fixture, Seeded } from './fixture.js';
import type { Sim } from './sim.js';
import { registerTasks } from './tasks.js';

export function registerModules(sim: Sim): void {
  registerTasks(sim);
  registerEvents(sim);
}

export function seedModules(sim: Sim, seeded: Seeded, fixture: Fixture): void {
  void sim;
  void seeded;
  void fixture;
}
