/**
 * The simulator as a process: `node test/xapi-sim/run.mjs [fixture.json | '{…}']`. It prints one
 * line of JSON (SimInfo) on stdout once every listener is up, and stops on SIGTERM or when
 * stdin closes (so a test runner that dies takes it along).
 */
import { readFileSync } from 'node:fs';
import type { Fixture } from './fixture.js';
import { startSimulator } from './simulator.js';

const arg = process.argv[2] ?? '{}';
const fixture = JSON.parse(arg.trim().startsWith('{') ? arg : readFileSync(arg, 'utf8')) as Fixture;
const running = await startSimulator(fixture, Number(process.env['XAPI_SIM_PORT'] ?? 0));
process.stdout.write(`${JSON.stringify(running.info())}\n`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await running.stop();
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
process.stdin.on('end', () => void stop());
process.stdin.resume();
