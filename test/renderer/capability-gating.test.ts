/**
 * VM actions gated by the host capabilities listApis says a command needs (createConsoleEndpoint:
 * consoleSerial): checked against the VM's host's listHosts capabilities when the caller has
 * them, else against the VM's own record (its consoles), never by hypervisor name; when nothing
 * says, the action stays offered and the engine's answer is the final word.
 */
import './fake-bridge';
import { describe, expect, it } from 'vitest';
import { actionsFor, vmHasCapability } from '../../renderer/src/actions/vm-actions';
import type { Vm } from '../../renderer/src/api/model';
import type { ApiInfo } from '../../renderer/src/stores/api-catalog-store';
import { listApisFixture } from './list-apis-fixture';

const apis = new Map<string, ApiInfo>(
  listApisFixture().map((a) => [a.name.toLowerCase(), a.name === 'createConsoleEndpoint' ? { ...a, capabilities: ['consoleSerial'] } : a]),
);
const running = (extra: Partial<Vm>): Vm => ({ id: 'v', name: 'v', displayname: 'v', state: 'Running', ...extra });
const offersConsole = (vm: Vm, hosts?: Map<string, Record<string, boolean>>) => actionsFor(vm, apis, hosts).some((a) => a.id === 'console');

describe('capability gates of VM actions', () => {
  it('the host\'s listHosts capabilities decide where the caller has them, whatever the hypervisor is called', () => {
    const hosts = new Map([['h-vc', { consoleSerial: false }], ['h-kvm', { consoleSerial: true }]]);
    expect(offersConsole(running({ hostid: 'h-vc', hypervisor: 'KVM' }), hosts)).toBe(false);
    expect(offersConsole(running({ hostid: 'h-kvm', hypervisor: 'VMware' }), hosts)).toBe(true);
  });

  it('without them, the VM\'s consoles say whether its host has a serial console', () => {
    expect(vmHasCapability(running({ consoles: 'webmks' }), 'consoleSerial')).toBe(false);
    expect(vmHasCapability(running({ consoles: 'webmks' }), 'consoleGraphical')).toBe(true);
    expect(offersConsole(running({ consoles: 'webmks' }))).toBe(false);
    expect(offersConsole(running({ consoles: 'serial,vnc' }))).toBe(true);
  });

  it('when nothing says, the action is offered (the engine refuses if it must)', () => {
    expect(vmHasCapability(running({}), 'consoleSerial')).toBeUndefined();
    expect(offersConsole(running({}))).toBe(true);
  });
});
