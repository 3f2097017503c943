/**
 * The simulator's state file (drivers/simulator/world.ts): rewritten at every change while it is
 * small, as before; once a world is large (thousands of domains), a burst of changes is written
 * by one rewrite, not one each, and nothing is lost: flush() writes what is pending, and a world
 * read from the file afterwards has every change.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { journalOf, SimulatorWorld, WRITE_AT_ONCE_BYTES, type SimDomain } from '../../drivers/simulator/world.js';
import type { VmSpec } from '../../drivers/types.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function world(): { world: SimulatorWorld; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-sim-state-'));
  dirs.push(dir);
  const file = join(dir, 'simulator.json');
  return { world: new SimulatorWorld(file), file };
}

const domain = (i: number): SimDomain => ({
  spec: { internalName: `i-2-${i}-VM`, displayName: `vm-${i}`, cpuNumber: 1, cpuSpeedMhz: 1000, memoryMiB: 512, disks: [{ name: `ROOT-${i}`, sizeBytes: 8 << 30, format: 'qcow2' }], nics: [{ mac: `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, network: 'guest', ip: `10.1.${i >> 8}.${i & 255}` }] } as unknown as VmSpec,
  power: 'Stopped',
  snapshots: [],
  boots: 0,
});
const shape = { cpuNumber: 64, cpuSpeedMhz: 2000, memoryMiB: 1 << 20, gpus: [] };
const saved = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as { hosts: Record<string, { domains: Record<string, SimDomain> }> };

describe('the simulator state file', () => {
  it('is rewritten at every change while it is small', () => {
    const { world: w, file } = world();
    const host = w.host('h1', shape);
    const before = w.writes;
    for (let i = 0; i < 5; i++) {
      host.domains[`i-2-${i}-VM`] = domain(i);
      w.save();
      expect(Object.keys(saved(file).hosts['h1']!.domains)).toHaveLength(i + 1);
    }
    expect(w.writes - before).toBe(5);
  });

  it('takes a burst of changes to a large world in one rewrite, and loses none', async () => {
    const { world: w, file } = world();
    const host = w.host('h1', shape);
    for (let i = 0; i < 3000; i++) host.domains[`i-2-${i}-VM`] = domain(i);
    w.save();
    expect(statSync(file).size).toBeGreaterThan(WRITE_AT_ONCE_BYTES);
    const before = w.writes;
    // A bulk start of 100 VMs: a change and a save each, saying which domain changed (as the driver's sessions do).
    for (let i = 0; i < 100; i++) {
      host.domains[`i-2-${i}-VM`]!.power = 'Running';
      w.save(['domain', 'h1', `i-2-${i}-VM`]);
    }
    expect(w.writes - before).toBe(0);
    expect(w.journalled).toBe(100);
    // Written behind: one rewrite for the hundred, without flush(), and the journal emptied after it.
    await expect.poll(() => w.writes - before, { timeout: 5000, interval: 50 }).toBe(1);
    expect(Object.values(saved(file).hosts['h1']!.domains).filter((d) => d.power === 'Running')).toHaveLength(100);
    expect(readFileSync(journalOf(file), 'utf8')).toBe('');

    // flush() writes what is pending at once; a world read from the file has it.
    host.domains['i-2-2999-VM']!.power = 'Running';
    delete host.domains['i-2-2998-VM'];
    w.save(['domain', 'h1', 'i-2-2999-VM'], ['domain', 'h1', 'i-2-2998-VM']);
    w.flush();
    expect(w.writes - before).toBe(2);
    const reread = new SimulatorWorld(file).find('h1')!;
    expect(reread.domains['i-2-2999-VM']!.power).toBe('Running');
    expect(reread.domains['i-2-2998-VM']).toBeUndefined();
    expect(Object.keys(reread.domains)).toHaveLength(2999);
  });

  it('keeps every change save() returned from when the process dies before the rewrite: the journal is read back', () => {
    const { world: w, file } = world();
    const host = w.host('h1', shape);
    for (let i = 0; i < 3000; i++) host.domains[`i-2-${i}-VM`] = domain(i);
    w.disks['ROOT-1'] = 'old';
    w.save();
    const writes = w.writes;
    host.domains['i-2-1-VM']!.power = 'Running';
    w.disks['ROOT-1'] = 'written by the guest';
    w.save(['domain', 'h1', 'i-2-1-VM'], ['disk', 'ROOT-1']);
    delete host.domains['i-2-2-VM'];
    delete w.disks['ROOT-2'];
    w.save(['domain', 'h1', 'i-2-2-VM'], ['disk', 'ROOT-2']);
    w.tasks['task-1'] = { op: 'start', host: 'h1', domain: 'i-2-1-VM', state: 'success' };
    w.save(['task', 'task-1']);
    // No rewrite yet: the document still has the old state, the journal the three changes.
    expect(w.writes).toBe(writes);
    expect(saved(file).hosts['h1']!.domains['i-2-1-VM']!.power).toBe('Stopped');
    // A line torn by a kill in the middle of an append was never acknowledged; it is skipped.
    appendFileSync(journalOf(file), '[["domain","h1","i-2-3-VM",{"spec":');
    // "After the kill": another process reads the file (the pending timer of this one never fires).
    const after = new SimulatorWorld(file);
    expect(after.find('h1')!.domains['i-2-1-VM']!.power).toBe('Running');
    expect(after.find('h1')!.domains['i-2-2-VM']).toBeUndefined();
    expect(after.find('h1')!.domains['i-2-3-VM']!.power).toBe('Stopped');
    expect(after.disks['ROOT-1']).toBe('written by the guest');
    expect(after.tasks['task-1']!.state).toBe('success');
    // It took the journal into the document at once, so its own appends never follow a torn line.
    expect(readFileSync(journalOf(file), 'utf8')).toBe('');
    expect(saved(file).hosts['h1']!.domains['i-2-1-VM']!.power).toBe('Running');
    expect(Object.keys(saved(file).hosts['h1']!.domains)).toHaveLength(2999);
    w.flush(); // the "killed" world's pending rewrite, so its timer does not outlive the directory
  });

  it('rewrites a large world at once for a change that does not say what it touched', () => {
    const { world: w, file } = world();
    const host = w.host('h1', shape);
    for (let i = 0; i < 3000; i++) host.domains[`i-2-${i}-VM`] = domain(i);
    w.save();
    const writes = w.writes;
    host.domains['i-2-5-VM']!.power = 'Running';
    w.save();
    expect(w.writes).toBe(writes + 1);
    expect(saved(file).hosts['h1']!.domains['i-2-5-VM']!.power).toBe('Running');
  });
});
