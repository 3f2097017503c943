/**
 * One-time console tokens (R31): createConsoleEndpoint hands one out for a VM the caller may
 * see; the console WebSocket redeems it once, within a minute, for that VM's serial console or
 * its graphical one (the kind is fixed when the token is issued).
 */
import { randomBytes } from 'node:crypto';
import type { Caller } from '../registry/types.js';

const LIFETIME_MS = 60_000;

export type ConsoleKind = 'serial' | 'graphical';

interface Grant {
  vmUuid: string;
  kind: ConsoleKind;
  caller: Caller;
  expires: number;
}

export class ConsoleTokens {
  private readonly grants = new Map<string, Grant>();

  issue(caller: Caller, vmUuid: string, kind: ConsoleKind = 'serial'): string {
    this.sweep();
    const token = randomBytes(24).toString('base64url');
    this.grants.set(token, { vmUuid, kind, caller, expires: Date.now() + LIFETIME_MS });
    return token;
  }

  redeem(token: string): Grant | undefined {
    const grant = this.grants.get(token);
    this.grants.delete(token);
    return grant && grant.expires >= Date.now() ? grant : undefined;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [token, grant] of this.grants) if (grant.expires < now) this.grants.delete(token);
  }
}
