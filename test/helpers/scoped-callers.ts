/**
 * The three scopes a list answers for besides the root admin, for tests of scope: a user in a
 * child domain `sales`, that domain's admin, and a user in ROOT.
 */
import type { TestEngine } from './engine.js';
import type { Caller } from '../../main/engine/registry/types.js';

export interface ScopedCallers {
  /** A user in domain sales. */
  alice: Caller;
  /** The domain admin of sales. */
  salesAdmin: Caller;
  /** A user in ROOT. */
  bob: Caller;
}

export async function scopedCallers(t: TestEngine): Promise<ScopedCallers> {
  const res = await t.ok('createDomain', { name: 'sales' });
  const domainId = t.engine.db.prepare('SELECT id FROM domains WHERE uuid=?').pluck().get((res['domain'] as { id: string }).id) as number;
  const make = (name: string, role: 'User' | 'DomainAdmin', inDomain: number) =>
    t.engine.accounts.byUserId(t.engine.accounts.createAccount({ name, role, domainId: inDomain, username: name, password: 'secret-pw' }).userId)!;
  return { alice: make('alice', 'User', domainId), salesAdmin: make('sales-admin', 'DomainAdmin', domainId), bob: make('bob', 'User', t.admin.domainId) };
}
