/**
 * listHosts publishes whether a host relays its guests' metadata connections to Kiln (the
 * metadataRelay facet: a KVM host's SSH remote forward), as it publishes its other facets, so a
 * client decides by capability. The simulator's hosts offer no relay and say so; a real KVM
 * host saying true is checked in e2e/ui-kvm-iso-install.real.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { testEngine, deployDemo, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;
beforeAll(async () => {
  t = await testEngine();
});
afterAll(() => t.close());

it('lists metadataRelay false for a connected simulator host', async () => {
  await deployDemo(t, { name: 'relay-caps' });
  const hosts = (await t.call('listHosts', {})).body['host'] as { capabilities?: Record<string, unknown> }[];
  const connected = hosts.filter((h) => h.capabilities);
  expect(connected.length).toBeGreaterThan(0);
  for (const host of connected) expect(host.capabilities!['metadataRelay']).toBe(false);
});
