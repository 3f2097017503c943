/**
 * Which consoles a VM has (listVirtualMachines `consoles`, from its host's console facet) and
 * createConsoleEndpoint's `type`: the simulator offers a serial console only, so a graphical one is
 * refused with a 431 naming `type`, and a stopped VM still says what its last host offered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngine, deployDemo, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;
let vm: Record<string, string>;
beforeAll(async () => {
  t = await testEngine();
  vm = await deployDemo(t, { name: 'consoles' });
});
afterAll(() => t.close());

describe('console kinds', () => {
  it("lists the VM's consoles, and hands out a serial endpoint but refuses a graphical one on a host without a display", async () => {
    const listed = ((await t.call('listVirtualMachines', { id: vm['id']! })).body['virtualmachine'] as { consoles?: string }[])[0]!;
    expect(listed.consoles).toBe('serial');
    const serial = await t.call('createConsoleEndpoint', { virtualmachineid: vm['id']!, type: 'serial' });
    expect(serial.status).toBe(200);
    expect(serial.body['consoleendpoint']).toMatchObject({ details: 'serial console over WebSocket', websocket: { extra: 'serial' } });
    const graphical = await t.call('createConsoleEndpoint', { virtualmachineid: vm['id']!, type: 'graphical' });
    expect(graphical).toMatchObject({ status: 431, body: { errortext: 'type: VM consoles has no graphical console on its host' } });
    const bogus = await t.call('createConsoleEndpoint', { virtualmachineid: vm['id']!, type: 'rdp' });
    expect(bogus).toMatchObject({ status: 431, body: { errortext: 'type: serial or graphical' } });
  });

  it('still lists the consoles of a stopped VM (those of the host it ran on last)', async () => {
    await t.run('stopVirtualMachine', { id: vm['id']!, forced: 'true' });
    const listed = ((await t.call('listVirtualMachines', { id: vm['id']! })).body['virtualmachine'] as { state: string; consoles?: string }[])[0]!;
    expect(listed).toMatchObject({ state: 'Stopped', consoles: 'serial' });
  });
});
