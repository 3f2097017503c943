// §6.11 item 1 of xenapi.md, by hand: the npm `xen-api` client (Xen Orchestra's, auto transport)
// against the simulator. It is not a project dependency (66 packages), so install it elsewhere:
//   npm install --prefix /tmp/xen-api-probe xen-api@4.7.6
//   node test/xapi-sim/xen-api-probe.mjs /tmp/xen-api-probe/node_modules/xen-api/index.mjs
// It prints what it saw and exits non-zero when a check fails.
import { spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const entry = process.argv[2];
if (!entry) throw new Error('usage: node xen-api-probe.mjs <path to xen-api/index.mjs>');
const { createClient } = await import(pathToFileURL(path.resolve(entry)).href);
const here = path.dirname(fileURLToPath(import.meta.url));
const child = spawn(process.execPath, [path.join(here, 'run.mjs'), JSON.stringify({ hosts: [{ gpus: ['K1'] }, {}], vms: [{ name: 'vm1' }] })], { stdio: ['pipe', 'pipe', 'inherit'] });
const info = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(JSON.parse(String(d)))));
const failures = [];
const check = (what, ok, seen) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}: ${typeof seen === 'string' ? seen : JSON.stringify(seen)}`);
  if (!ok) failures.push(what);
};
const xapi = createClient({ url: info.url, allowUnauthorized: true, auth: { user: info.username, password: info.password } });
try {
  await xapi.connect();
  check('connects', xapi.status === 'connected', xapi.status);
  await xapi.objectsFetched;
  const types = [...new Set(Object.values(xapi.objects.all).map((o) => o.$type))].sort();
  check('fills objects for the classes with objects', ['GPU_group', 'PGPU', 'VGPU_type', 'VM', 'host', 'pool'].every((t) => types.includes(t)), types.join(' '));
  const vm = Object.values(xapi.objects.all).find((o) => o.$type === 'VM' && o.name_label === 'vm1');
  const clone = await xapi.callAsync('VM.clone', vm.$ref, 'vm1-clone');
  check('callAsync(VM.clone) decodes the ref from task.result', /^OpaqueRef:/.test(clone), clone);
  let sawRunning = false;
  xapi.objects.on('update', (objs) => {
    for (const o of Object.values(objs)) if (o.$ref === vm.$ref && o.power_state === 'Running') sawRunning = true;
  });
  const started = await xapi.callAsync('VM.start', vm.$ref, false, false);
  check('callAsync(VM.start) gives ""', started === '', JSON.stringify(started));
  for (let i = 0; i < 50 && !sawRunning; i++) await new Promise((r) => setTimeout(r, 100));
  check('observes the mod event (Running)', sawRunning, String(sawRunning));
  const err = await xapi.call('VM.start', vm.$ref, false, false).catch((e) => [e.code, ...e.params]);
  check('errors decode as code + params', err[0] === 'VM_BAD_POWER_STATE' && err[2] === 'halted' && err[3] === 'running', err);
  const bad = await createClient({ url: info.url, allowUnauthorized: true, auth: { user: 'root', password: 'wrong' } }).connect().catch((e) => [e.code, ...e.params]);
  check('bad login', bad[0] === 'SESSION_AUTHENTICATION_FAILED', bad);
  const member = createClient({ url: info.hosts[1].url, allowUnauthorized: true, auth: { user: info.username, password: info.password }, watchEvents: false });
  await member.connect();
  check('login on a member follows HOST_IS_SLAVE to the master', member.status === 'connected', member.status);
  await member.disconnect();
} finally {
  await xapi.disconnect().catch(() => undefined);
  child.kill('SIGTERM');
}
// xen-api keeps timers and sockets of its watch loop; exit rather than wait for them.
process.exit(failures.length ? 1 : 0);
