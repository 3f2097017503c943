import { defineCommand, ADMINS } from '../../registry/types.js';
import { targetUser } from './user-access.js';
import { userView } from './views.js';

export default defineCommand({
  name: 'enableUser',
  description: 'Enables a user account (also one disabled after too many failed logins; the count starts again)',
  kind: 'sync',
  roles: ADMINS,
  response: 'user',
  params: [{ name: 'id', type: 'uuid', required: true, description: 'Enables user by user ID.' }],
  handler({ engine, caller }, args) {
    const user = targetUser(engine.db, caller, args.uuid('id')!);
    engine.accounts.enableUser(user.id);
    engine.events.record({ type: 'USER.ENABLE', description: `user ${user.username} enabled`, userId: caller.userId, accountId: user.account_id, domainId: caller.domainId, resourceType: 'User', resourceUuid: user.uuid });
    return userView(engine.db, user.id);
  },
});
