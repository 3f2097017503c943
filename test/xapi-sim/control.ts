/**
 * The test-control API (§6.10): POST /_sim/<action> with a JSON body on the control port.
 * Modules add their own actions (events-lost, vm-tools, gpu changes …) with defineAction.
 */
import type http from 'node:http';
import type { RunningSim } from './simulator.js';
import type { Sim } from './sim.js';
import { addHost, seededOf, type HostFixture, type VmFixture } from './fixture.js';
import { addBoard, remainingCapacityInternal } from './gpu.js';
import { refreshMemory } from './host.js';
import { addFixtureVm, setTools } from './vm.js';
import { crashHost } from './ha.js';
import { XapiFailure } from './wire.js';

export interface ControlContext {
  running: RunningSim;
}

export type Body = Record<string, unknown>;
type Action = (ctx: ControlContext, body: Body) => unknown;

const actions = new Map<string, Action>();

export function defineAction(name: string, fn: Action): void {
  actions.set(name, fn);
}

/** A host named by ref, uuid, name_label or index in the pool's host list. */
export function hostArg(sim: Sim, v: unknown): string {
  const hosts = sim.store.all('host');
  const h = typeof v === 'number' ? hosts[v] : hosts.find((r) => r.ref === v || r.rec['uuid'] === v || r.rec['name_label'] === v);
  if (!h) throw new Error(`no host ${JSON.stringify(v)}`);
  return h.ref;
}

/** Any object named by ref, or a VM by name_label/uuid. */
export function vmArg(sim: Sim, v: unknown): string {
  const vm = sim.store.all('VM').find((r) => r.ref === v || r.rec['uuid'] === v || r.rec['name_label'] === v);
  if (!vm) throw new Error(`no VM ${JSON.stringify(v)}`);
  return vm.ref;
}

defineAction('info', ({ running }) => running.info());
defineAction('expire-sessions', ({ running }) => {
  const n = running.sim.sessions.size;
  running.sim.sessions.clear();
  return { expired: n };
});
defineAction('set-master', ({ running }, b) => {
  const { sim } = running;
  const host = hostArg(sim, b['host']);
  sim.store.update('pool', sim.pool, { master: host });
  return running.info();
});
defineAction('host-down', async ({ running }, b) => {
  await running.hostDown(hostArg(running.sim, b['host']));
  return {};
});
defineAction('host-up', async ({ running }, b) => {
  await running.hostUp(hostArg(running.sim, b['host']));
  return {};
});
defineAction('host-set', ({ running }, b) => {
  const { sim } = running;
  const host = hostArg(sim, b['host']);
  if (typeof b['enabled'] === 'boolean') sim.store.update('host', host, { enabled: b['enabled'] });
  if (typeof b['live'] === 'boolean') sim.store.update('host_metrics', sim.store.rec('host', host)['metrics'] as string, { live: b['live'] });
  return {};
});
defineAction('fault', ({ running }, b) => {
  if (typeof b['method'] !== 'string') throw new Error('fault needs method (a wire method name, or *)');
  running.sim.faults.push({
    method: b['method'],
    count: typeof b['count'] === 'number' ? b['count'] : 1,
    error: Array.isArray(b['error']) ? b['error'].map(String) : undefined,
    delayMs: typeof b['delayMs'] === 'number' ? b['delayMs'] : undefined,
    drop: b['drop'] === true,
    after: typeof b['after'] === 'string' ? b['after'] : undefined,
    redirect: typeof b['redirect'] === 'string' ? b['redirect'] : undefined,
  });
  return {};
});
defineAction('clear-faults', ({ running }) => {
  running.sim.faults.length = 0;
  return {};
});
defineAction('rekey', ({ running }) => ({ thumbprint: running.rekey() }));
defineAction('calls', ({ running }, b) => {
  const calls = [...running.sim.calls];
  if (b['reset'] === true) running.sim.calls.length = 0;
  return calls;
});
defineAction('options', ({ running }, b) => {
  const o = running.sim.options;
  if (typeof b['taskDelayMs'] === 'number') o.taskDelayMs = b['taskDelayMs'];
  if (typeof b['eventTimeoutClampS'] === 'number') o.eventTimeoutClampS = b['eventTimeoutClampS'];
  return { ...o, password: undefined };
});
defineAction('record', ({ running }, b) => {
  const row = running.sim.store.find(String(b['ref']));
  if (!row) throw new Error(`no object ${String(b['ref'])}`);
  return { class: row.cls, record: row.rec, hidden: row.hidden };
});

export async function control(ctx: ControlContext, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const name = (req.url ?? '').replace(/^\/_sim\//, '').split('?')[0]!;
  const action = actions.get(name);
  const send = (status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (!action) return send(404, { error: `unknown action ${name}; known: ${[...actions.keys()].join(', ')}` });
  try {
    const text = Buffer.concat(chunks).toString('utf8');
    const body = text ? (JSON.parse(text) as Body) : {};
    send(200, (await action(ctx, body)) ?? {});
  } catch (e) {
    send(400, { error: e instanceof XapiFailure ? e.description : e instanceof Error ? e.message : String(e) });
  }
}
defineAction('events-lost', ({ running }) => {
  running.sim.eventsLost = true;
  return {};
});
defineAction('vm-tools', ({ running }, b) => {
  setTools(running.sim, vmArg(running.sim, b['vm']), b['tools'] === true);
  return {};
});
defineAction('vm-behaviour', ({ running }, b) => {
  const vm = vmArg(running.sim, b['vm']);
  const mode = b['cleanShutdown'];
  if (mode !== 'ok' && mode !== 'hang' && mode !== 'fail') throw new Error('cleanShutdown must be ok, hang or fail');
  running.sim.store.find(vm)!.hidden['cleanShutdown'] = mode;
  return {};
});
defineAction('host-crash', async ({ running }, b) => {
  const host = hostArg(running.sim, b['host']);
  await running.hostDown(host);
  return { restarted: await crashHost(running.sim, host, typeof b['restartDelayMs'] === 'number' ? b['restartDelayMs'] : 0) };
});
defineAction('host-recover', async ({ running }, b) => {
  const { sim } = running;
  const host = hostArg(sim, b['host']);
  sim.store.update('host_metrics', sim.store.rec('host', host)['metrics'] as string, { live: true });
  await running.hostUp(host);
  return {};
});
/** xapi's internal capacity answer, with the error that explains a 0 (the public call only says 0). */
defineAction('pgpu-capacity', ({ running }, b) => {
  try {
    return { capacity: remainingCapacityInternal(running.sim, String(b['pgpu']), String(b['type'])) };
  } catch (e) {
    if (e instanceof XapiFailure) return { capacity: 0, error: e.description };
    throw e;
  }
});
defineAction('add-host', async ({ running }, b) => {
  const { sim } = running;
  const host = addHost(sim, (b['host'] ?? {}) as HostFixture, sim.store.count('host'), running.fixture.product ?? 'XenServer');
  refreshMemory(sim);
  for (const board of ((b['host'] as HostFixture | undefined)?.gpus ?? [])) addBoard(sim, host, board, running.fixture.pciIds ?? false);
  await running.addListener(host);
  return running.info();
});
defineAction('add-board', ({ running }, b) => {
  const board = b['board'];
  if (board !== 'K1' && board !== 'K2') throw new Error('board must be K1 or K2');
  return { pgpus: addBoard(running.sim, hostArg(running.sim, b['host']), board, running.fixture.pciIds ?? false) };
});
/** A further pool-wide network (a bond or VLAN network an admin made), named and bridged as asked. */
defineAction('add-network', ({ running }, b) => ({
  network: running.sim.store.create('network', { name_label: String(b['name']), bridge: String(b['bridge'] ?? `xapi${running.sim.store.count('network')}`), MTU: 1500, managed: true, default_locking_mode: 'unlocked', other_config: {} }),
}));
defineAction('add-vm', ({ running }, b) => ({ vm: addFixtureVm(running.sim, seededOf(running.sim), b['vm'] as VmFixture) }));
defineAction('pool-ha', ({ running }, b) => {
  running.sim.store.update('pool', running.sim.pool, { ha_enabled: b['enabled'] === true });
  return {};
});
/** Saves the pool's state under a name ("initial" is saved after seeding); restore-state goes back to it. */
defineAction('save-state', ({ running }, b) => {
  running.saved.set(String(b['name'] ?? 'default'), running.sim.store.dump());
  return {};
});
defineAction('restore-state', ({ running }, b) => {
  const name = String(b['name'] ?? 'initial');
  const dump = running.saved.get(name);
  if (!dump) throw new Error(`no saved state ${name}`);
  running.sim.store.restore(dump);
  return {};
});
