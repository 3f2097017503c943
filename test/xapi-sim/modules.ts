/** The simulator's modules beyond sessions and hosts, registered and seeded in one place. */
import type { Fixture, Seeded } from './fixture.js';
import type { Sim } from './sim.js';

export function registerModules(sim: Sim): void {
  void sim;
}

export function seedModules(sim: Sim, seeded: Seeded, fixture: Fixture): void {
  void sim;
  void seeded;
  void fixture;
}
