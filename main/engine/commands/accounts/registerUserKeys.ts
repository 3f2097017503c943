import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { targetUser } from './user-access.js';

export default defineCommand({
  name: 'registerUserKeys',
  description: 'This command allows a user to register for the developer API, returning a secret key and an API key; the secret is stored sealed.',
  kind: 'sync',
  roles: ALL_ROLES,
  response: 'userkeys',
  sensitive: ['secretkey'],
  params: [{ name: 'id', type: 'uuid', required: true, description: 'User id' }],
  handler({ engine, caller }, args) {
    // The same reach as updateUser: new keys for a root admin's user would be the root admin's power.
    const user = targetUser(engine.db, caller, args.uuid('id')!);
    const keys = engine.accounts.registerKeys(user.id);
    engine.events.record({ type: 'REGISTER.USER.KEY', description: `API keys registered for user ${user.username}`, userId: caller.userId, accountId: user.account_id, resourceType: 'User', resourceUuid: user.uuid });
    return { apikey: keys.apiKey, secretkey: keys.secretKey };
  },
});
