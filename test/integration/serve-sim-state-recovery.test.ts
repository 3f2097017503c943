/**
 * The simulator's state file survives a kill -9 of `kiln serve` at scale (issue 16): once the
 * state is past WRITE_AT_ONCE_BYTES its rewrite comes behind the change, so a change the API had
 * acknowledged was lost when the process was killed before that rewrite. Now the change is in the
 * journal before the driver returns: a real serve process stops a VM, is killed with SIGKILL as
 * soon as the job says it succeeded, and the state read back (as the next start reads it) has
 * the VM's domain stopped, the file parses, and the restarted Kiln agrees.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ok } from '../helpers/crash-rounds.js';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { SimulatorWorld, WRITE_AT_ONCE_BYTES } from '../../drivers/simulator/world.js';

const dataDir = mkdtempSync(join(tmpdir(), 'kiln-sim-kill-'));
const stateFile = join(dataDir, 'simulator.json');
let kiln: KilnProcess | undefined;

afterAll(async () => {
  await kiln?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Polls a job every 10 ms, so the kill lands right after the answer, well inside the rewrite's delay. */
async function succeeded(k: KilnProcess, jobid: string): Promise<void> {
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
    const res = await ok(k, 'queryAsyncJobResult', { jobid });
    if (res['jobstatus'] === 1) return;
    if (res['jobstatus'] === 2) throw new Error(`job ${jobid} failed: ${JSON.stringify(res['jobresult'])}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`job ${jobid} still running`);
}

const powerOf = (world: SimulatorWorld, hostName: string, domain: string) => world.find(hostName)?.domains[domain]?.power;

describe('the simulator state file under kill -9 of kiln serve', () => {
  it('keeps a change the API acknowledged when the process is killed right after it, at 512 kB of state and more', { timeout: 120_000 }, async () => {
    kiln = await startKiln({ dataDir, args: ['--no-ui'] });
    const zoneid = ((await ok(kiln, 'listZones', { name: 'Demo' }))['zone'] as { id: string }[])[0]!.id;
    const templateid = ((await ok(kiln, 'listTemplates', { templatefilter: 'all', name: 'Debian 12' }))['template'] as { id: string }[])[0]!.id;
    const serviceofferingid = ((await ok(kiln, 'listServiceOfferings', { name: 'Small Instance' }))['serviceoffering'] as { id: string }[])[0]!.id;
    const deploy = await ok(kiln, 'deployVirtualMachine', { zoneid, templateid, serviceofferingid, name: 'kill-me' });
    await succeeded(kiln, deploy['jobid'] as string);
    const vm = ((await ok(kiln, 'listVirtualMachines', { id: deploy['id'] as string }))['virtualmachine'] as { instancename: string; hostname: string; state: string }[])[0]!;
    expect(vm.state).toBe('Running');
    await kiln.stop();

    // Past the size at which the file is written behind: a large disk's bytes, as a busy guest leaves them.
    const saved = JSON.parse(readFileSync(stateFile, 'utf8')) as { disks: Record<string, string> };
    saved.disks['padding-disk'] = 'x'.repeat(WRITE_AT_ONCE_BYTES + 100_000);
    writeFileSync(stateFile, JSON.stringify(saved), { mode: 0o600 });
    expect(statSync(stateFile).size).toBeGreaterThan(WRITE_AT_ONCE_BYTES);
    expect(powerOf(new SimulatorWorld(stateFile), vm.hostname, vm.instancename)).toBe('Running');

    kiln = await startKiln({ dataDir, args: ['--no-ui'] });
    // Past the start's own saves and their rewrite, so the stop's change is the one not yet rewritten.
    await new Promise((r) => setTimeout(r, 1500));
    const stop = await ok(kiln, 'stopVirtualMachine', { id: deploy['id'] as string });
    await succeeded(kiln, stop['jobid'] as string);
    const killed = kiln.child;
    kiln = undefined; // stop() would wait for an exit that has happened
    killed.kill('SIGKILL');
    await new Promise((r) => killed.once('exit', r));

    // The document still parses (a rename never leaves half a file), and read as the next start reads it, it has the stop.
    expect(() => JSON.parse(readFileSync(stateFile, 'utf8')) as unknown).not.toThrow();
    const after = new SimulatorWorld(stateFile);
    expect(powerOf(after, vm.hostname, vm.instancename)).toBe('Stopped');
    expect(after.disks['padding-disk']).toHaveLength(WRITE_AT_ONCE_BYTES + 100_000);

    // The restarted Kiln and its simulator agree: the VM is Stopped and stays so after a sync.
    kiln = await startKiln({ dataDir, args: ['--no-ui'] });
    await new Promise((r) => setTimeout(r, 3000));
    const listed = ((await ok(kiln, 'listVirtualMachines', { id: deploy['id'] as string }))['virtualmachine'] as { state: string }[])[0]!;
    expect(listed.state).toBe('Stopped');
    await kiln.stop();
    kiln = undefined;
    const final = JSON.parse(readFileSync(stateFile, 'utf8')) as { hosts: Record<string, { domains: Record<string, { power: string }> }> };
    expect(final.hosts[vm.hostname]!.domains[vm.instancename]!.power).toBe('Stopped');
  });
});
