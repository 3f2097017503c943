/**
 * DomainEventWatcher's logic with a scripted virsh: stream lines become power events, the
 * reconcile reports only real changes the stream missed, and Kiln's own snapshot/migration
 * pauses stay quiet.
 */
import { describe, expect, it } from 'vitest';
import { DomainEventWatcher, reasonOfDomstate } from '../../drivers/kvm/events.js';
import type { Virsh } from '../../drivers/kvm/virsh.js';
import type { DomainPowerChange } from '../../drivers/kvm/virsh-output.js';

/** Just enough of Virsh for the watcher: `list --all` and `domstate --reason` answers. */
function fakeVirsh(state: { list: string; domstate: Record<string, string> }): Virsh {
  const fake = {
    ssh: { isUp: true, openChannel: () => Promise.reject(new Error('no stream in this test')) },
    argv: (args: string[]) => args,
    run: async (args: string[]) => {
      if (args[0] === 'list') return state.list;
      throw new Error(`unexpected ${args.join(' ')}`);
    },
    tryRun: async (args: string[]) => {
      const name = args[args.length - 1] ?? '';
      return { stdout: `${state.domstate[name] ?? 'shut off (unknown)'}\n`, stderr: '', code: 0 };
    },
  };
  return fake as unknown as Virsh;
}

const table = (rows: [string, string][]) => ` Id   Name   State\n----------------\n${rows.map(([n, s]) => ` -    ${n}   ${s}`).join('\n')}\n\n`;

function watcher(state: { list: string; domstate: Record<string, string> }) {
  const events: DomainPowerChange[] = [];
  const w = new DomainEventWatcher(fakeVirsh(state), (e) => events.push(e), 60_000);
  // Run without the timer or the stream: the test drives reconcile() and handleLine() itself.
  (w as unknown as { running: boolean }).running = true;
  return { w, events };
}

describe('DomainEventWatcher', () => {
  it('turns stream lines into power events', () => {
    const { w, events } = watcher({ list: table([]), domstate: {} });
    w.handleLine("event 'lifecycle' for domain 'a': Defined Added");
    w.handleLine("event 'lifecycle' for domain 'a': Started Booted");
    w.handleLine("event 'lifecycle' for domain 'a': Shutdown Finished after guest request");
    w.handleLine("event 'lifecycle' for domain 'a': Stopped Shutdown");
    w.handleLine('garbage');
    expect(events).toEqual([
      { kind: 'power', name: 'a', state: 'Running', reason: 'started' },
      { kind: 'power', name: 'a', state: 'Stopped', reason: 'shutdown' },
    ]);
  });

  it('reports changes the stream missed, with the reason from domstate, and nothing else', async () => {
    const state = { list: table([['a', 'running'], ['b', 'running']]), domstate: { a: 'shut off (crashed)' } as Record<string, string> };
    const { w, events } = watcher(state);
    await w.reconcile(); // seeds: no events for what was already there
    expect(events).toEqual([]);
    state.list = table([['a', 'shut off'], ['b', 'running'], ['c', 'shut off']]);
    await w.reconcile();
    // a changed (crash, reason from domstate); b did not; c is new, which is not a change.
    expect(events).toEqual([{ kind: 'power', name: 'a', state: 'Stopped', reason: 'crashed' }]);
    await w.reconcile();
    expect(events).toHaveLength(1);
  });

  it('does not repeat what the stream already said', async () => {
    const state = { list: table([['a', 'running']]), domstate: {} };
    const { w, events } = watcher(state);
    await w.reconcile();
    w.handleLine("event 'lifecycle' for domain 'a': Stopped Destroyed");
    state.list = table([['a', 'shut off']]);
    await w.reconcile();
    expect(events).toEqual([{ kind: 'power', name: 'a', state: 'Stopped', reason: 'destroyed' }]);
  });

  it("keeps quiet about pauses during Kiln's own snapshot or migration", async () => {
    const { w, events } = watcher({ list: table([]), domstate: {} });
    await w.quietly('a', async () => {
      w.handleLine("event 'lifecycle' for domain 'a': Suspended Paused");
      w.handleLine("event 'lifecycle' for domain 'a': Resumed Unpaused");
    });
    w.handleLine("event 'lifecycle' for domain 'a': Suspended Paused");
    expect(events).toEqual([{ kind: 'power', name: 'a', state: 'Paused', reason: 'paused' }]);
  });

  it('maps domstate reasons', () => {
    expect(reasonOfDomstate('crashed')).toBe('crashed');
    expect(reasonOfDomstate('failed')).toBe('crashed');
    expect(reasonOfDomstate('booted')).toBe('started');
    expect(reasonOfDomstate('shutdown')).toBe('shutdown');
    expect(reasonOfDomstate(undefined)).toBeUndefined();
  });
});
