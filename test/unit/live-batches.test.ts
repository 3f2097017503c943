/**
 * The 'jobs' channel is batched as the 'vms' channel is (one RecordFeed): a bulk stop of many VMs
 * reaches a /kiln/live socket as a handful of 'jobs' messages, not one per job change, and the
 * messages still carry every job's end as queryAsyncJobResult answers it. The 'zones', 'pods'
 * and 'clusters' channels carry the records listZones, listPods and listClusters answer, when
 * another client creates one, and a removed one's id.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { attachLiveChannel } from '../../main/http/live.js';
import { startHttpServer } from '../../main/http/server.js';
import type { JobUpdate, JobsUpdate, InfraUpdate, LiveChannel } from '../../preload/api.js';
import { deployDemo, demoIds, testEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;
let ws: WebSocket;
const cleanups: (() => Promise<void> | void)[] = [];
/** Every message the socket received, by channel. */
const received = new Map<LiveChannel, unknown[]>();
const messages = <T>(channel: LiveChannel) => (received.get(channel) ?? []) as T[];

const until = async (check: () => boolean, what: string) => {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check(), what).toBe(true);
};

beforeAll(async () => {
  t = await testEngine();
  cleanups.push(() => t.close());
  const uiDir = mkdtempSync(join(tmpdir(), 'kiln-ui-'));
  cleanups.push(() => rmSync(uiDir, { recursive: true, force: true }));
  writeFileSync(join(uiDir, 'index.html'), '<!doctype html><title>Kiln</title>');
  const running = await startHttpServer(t.engine, { uiDir, port: 0 });
  cleanups.push(() => running.close());
  attachLiveChannel(t.engine, running);
  const origin = new URL(running.url).origin;
  const cookie = (await fetch(running.uiUrl!, { redirect: 'manual' })).headers.get('set-cookie')!.split(';')[0]!;
  ws = new WebSocket(`${origin.replace('http', 'ws')}/kiln/live`, { headers: { Cookie: cookie, Origin: origin } });
  await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
  cleanups.push(() => ws.close());
  ws.on('message', (data: Buffer) => {
    const message = JSON.parse(data.toString()) as { type: string; channel: LiveChannel; payload: unknown };
    if (message.type !== 'message') return;
    received.set(message.channel, [...(received.get(message.channel) ?? []), message.payload]);
  });
  for (const channel of ['jobs', 'zones', 'pods', 'clusters'] as const) ws.send(JSON.stringify({ type: 'subscribe', channel }));
  await until(() => (['jobs', 'zones', 'pods', 'clusters'] as const).every((c) => t.engine.live.subscriberCount(c) === 1), 'subscribed');
}, 60_000);
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("the 'jobs' channel at the socket", () => {
  it('sends a stop of 60 VMs as a bounded number of messages that hold every job\'s end', async () => {
    const vms: Record<string, string>[] = [];
    for (let i = 0; i < 60; i += 10) vms.push(...(await Promise.all(Array.from({ length: 10 }, (_, k) => deployDemo(t, { name: `jb-${i + k}` })))));
    await new Promise((r) => setTimeout(r, 200));
    received.delete('jobs');
    // The job updates the engine emits (what went out one message each before the batching).
    let emitted = 0;
    const countUpdate = () => emitted++;
    t.engine.jobs.updates.on('job', countUpdate);
    const jobids = await Promise.all(vms.map(async (vm) => String((await t.ok('stopVirtualMachine', { id: vm['id']! }))['jobid'])));
    const last = () => new Map(messages<JobsUpdate>('jobs').flatMap((m) => m.changed).map((u) => [u.jobid, u] as [string, JobUpdate]));
    await until(() => jobids.every((id) => (last().get(id)?.status ?? 0) !== 0), 'every stop ended on the channel');
    await new Promise((r) => setTimeout(r, 200));
    t.engine.jobs.updates.off('job', countUpdate);

    const sent = messages<JobsUpdate>('jobs').length;
    console.log(`stop of 60 VMs: ${emitted} job updates emitted, ${sent} 'jobs' messages at the socket`);
    expect(emitted).toBeGreaterThanOrEqual(120);
    expect(sent).toBeLessThanOrEqual(emitted / 4);
    // Each job's last update on the channel is its end as queryAsyncJobResult answers it.
    for (const jobid of jobids) {
      const job = await t.ok('queryAsyncJobResult', { jobid });
      expect(job['jobstatus']).toBe(1);
      expect(last().get(jobid)).toMatchObject({ jobid, cmd: 'stopVirtualMachine', status: 1, progress: 100, instanceType: 'VirtualMachine' });
    }
    // Within one message a job appears once.
    for (const m of messages<JobsUpdate>('jobs')) expect(new Set(m.changed.map((u) => u.jobid)).size).toBe(m.changed.length);
  }, 120_000);
});

describe("the 'zones', 'pods' and 'clusters' channels", () => {
  const records = (channel: LiveChannel) => messages<InfraUpdate>(channel).flatMap((m) => m.changed) as { id: string; name: string }[];

  it('send a zone, pod and cluster another client creates, as their lists answer them', async () => {
    const zone = (await t.ok('createZone', { name: 'live-zone' }))['zone'] as { id: string };
    await until(() => records('zones').some((z) => z.id === zone.id), 'zone pushed');
    expect(records('zones').find((z) => z.id === zone.id)).toEqual(((await t.ok('listZones', { id: zone.id }))['zone'] as unknown[])[0]);

    const pod = (await t.ok('createPod', { name: 'live-pod', zoneid: zone.id }))['pod'] as { id: string };
    await until(() => records('pods').some((p) => p.id === pod.id), 'pod pushed');
    expect(records('pods').find((p) => p.id === pod.id)).toEqual(((await t.ok('listPods', { id: pod.id }))['pod'] as unknown[])[0]);

    const cluster = (await t.ok('addCluster', { clustername: 'live-cluster', zoneid: zone.id, podid: pod.id, hypervisor: 'Simulator' }))['cluster'] as { id: string };
    await until(() => records('clusters').some((c) => c.id === cluster.id), 'cluster pushed');
    expect(records('clusters').find((c) => c.id === cluster.id)).toEqual(((await t.ok('listClusters', { id: cluster.id }))['cluster'] as unknown[])[0]);
    // A zone is not sent on the pods channel, nor the other way round.
    expect(records('pods').some((p) => p.id === zone.id || p.id === cluster.id)).toBe(false);
    expect(demoIds(t.engine).zoneid).not.toBe(zone.id);
  });

  it('sends the id of a cluster that is gone', async () => {
    const cluster = records('clusters').find((c) => c.name === 'live-cluster')!;
    // No delete command exists yet; a removed row is what one would leave.
    t.engine.db.prepare("UPDATE clusters SET removed=datetime('now') WHERE uuid=?").run(cluster.id);
    t.engine.infraFeeds.clusters.mark(cluster.id);
    await until(() => messages<InfraUpdate>('clusters').some((m) => m.removed.includes(cluster.id)), 'removed pushed');
  });
});
