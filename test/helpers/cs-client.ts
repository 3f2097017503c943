/**
 * Debian's CloudStack client (`cloudstack`, package cs) against a running `kiln serve`, signing
 * with the admin's keys unless ENV names others; its JSON answer, exit code and stderr.
 */
import { execFile } from 'node:child_process';
import type { KilnProcess } from './server.js';

export interface CsResult {
  code: number;
  json: Record<string, unknown>;
  stderr: string;
}

export function csClient(kiln: () => KilnProcess): (args: string[], env?: Record<string, string>) => Promise<CsResult> {
  return (args, env = {}) =>
    new Promise((resolve) => {
      const k = kiln();
      execFile(
        'cloudstack',
        args,
        { env: { ...process.env, CLOUDSTACK_ENDPOINT: k.apiUrl, CLOUDSTACK_KEY: k.apiKey, CLOUDSTACK_SECRET: k.secretKey, CLOUDSTACK_POLL_INTERVAL: '0.2', ...env }, maxBuffer: 1 << 24 },
        (error, stdout, stderr) => {
          let json: Record<string, unknown>;
          try {
            json = JSON.parse(stdout) as Record<string, unknown>;
          } catch {
            json = { raw: stdout };
          }
          resolve({ code: error ? Number(error.code ?? 1) : 0, json, stderr });
        },
      );
    });
}

/** cs's arguments for COMMAND with PARAMS (key=value each). */
export const csArgs = (command: string, params: Record<string, string> = {}): string[] => [command, ...Object.entries(params).map(([k, v]) => `${k}=${v}`)];

/** The error envelope of a refused call. */
export const csError = (r: CsResult) => Object.values(r.json)[0] as { errorcode: number; errortext: string };
