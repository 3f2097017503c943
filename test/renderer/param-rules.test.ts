/**
 * One rule for the UI and the engine: the renderer's field checks come from the engine's own
 * listApis answer (a real engine here, not a fixture), so the deploy wizard refuses `1web` with
 * exactly the words of the engine's 431, and accepts what the engine accepts.
 */
import { answer } from './fake-bridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paramProblem, useApiCatalog } from '../../renderer/src/stores/api-catalog-store';
import { hostnameProblem } from '../../renderer/src/stores/deploy-form-store';

interface Engine {
  call(command: string, params?: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }>;
  close(): Promise<void>;
  engine: { db: { prepare(sql: string): { pluck(): { get(): unknown } } } };
}
// The engine is loaded by path: the renderer's TypeScript project does not typecheck the engine.
const helpers = '../helpers/engine.js';
let t: Engine;
let catalog: Map<string, import('../../renderer/src/stores/api-catalog-store').ApiInfo>;
let demo: { zoneid: string; templateid: string; small: string };

beforeAll(async () => {
  const { testEngine, demoIds } = (await import(helpers)) as { testEngine(): Promise<Engine>; demoIds(engine: unknown): typeof demo };
  t = await testEngine();
  demo = demoIds(t.engine);
  const listApis = (await t.call('listApis')).body;
  answer({ listApis: () => listApis });
  await useApiCatalog.getState().load();
  catalog = useApiCatalog.getState().apis;
});
afterAll(async () => t?.close());

const engineSays = async (params: Record<string, string>) => (await t.call('deployVirtualMachine', { zoneid: demo.zoneid, templateid: demo.templateid, serviceofferingid: demo.small, ...params })).body;

describe('field rules from listApis', () => {
  it("refuses 1web in the deploy wizard's name with the engine's message", async () => {
    const refused = await engineSays({ name: '1web' });
    expect(refused['errorcode']).toBe(431);
    expect(hostnameProblem('1web', catalog)).toBe(refused['errortext']);
    // The default catalog is the loaded one (the VM edit form calls it without one).
    expect(hostnameProblem('1web')).toBe(refused['errortext']);
    expect(hostnameProblem('1web', catalog, 'updateVirtualMachine')).toBe(refused['errortext']);
  });

  it('agrees with the engine on other names, long ones included', async () => {
    for (const name of ['web-', '-web', 'web_1', '123', 'wéb']) {
      const refused = await engineSays({ name });
      expect(refused['errorcode'], name).toBe(431);
      expect(hostnameProblem(name, catalog)).toBe(refused['errortext']);
    }
    const long = `w${'a'.repeat(63)}`;
    expect(String((await engineSays({ name: long }))['errortext'])).toContain(hostnameProblem(long, catalog));
    for (const name of ['web1', 'a', 'My-VM-2']) expect(hostnameProblem(name, catalog), name).toBeUndefined();
    expect(hostnameProblem('', catalog)).toBeUndefined();
  });

  it("checks the accept-key dialog's fingerprint with acceptHostKey's rule", async () => {
    const host = t.engine.db.prepare('SELECT uuid FROM hosts LIMIT 1').pluck().get() as string;
    const refused = (await t.call('acceptHostKey', { id: host, fingerprint: 'SHA256:short' })).body;
    expect(paramProblem(catalog, 'acceptHostKey', 'fingerprint', 'SHA256:short')).toBe(refused['errortext']);
    expect(paramProblem(catalog, 'acceptHostKey', 'fingerprint', `SHA256:${'A'.repeat(43)}`)).toBeUndefined();
  });

  it("checks the add-host dialog's address with probeHostKey's rule", async () => {
    for (const url of ['http://10.0.0.5', 'ssh://root@h', 'ssh://h:port']) {
      const refused = (await t.call('probeHostKey', { url })).body;
      expect(paramProblem(catalog, 'probeHostKey', 'url', url)).toBe(refused['errortext']);
    }
    for (const url of ['ssh://10.0.0.5', 'ssh://kvm-1:2222', 'ssh://[::1]:22']) expect(paramProblem(catalog, 'probeHostKey', 'url', url), url).toBeUndefined();
  });
});
