import { existsSync, unlinkSync } from 'node:fs';
import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { initialAdminPasswordFile } from '../../data-dir.js';
import { targetUser } from './user-access.js';
import { userView } from './views.js';

export default defineCommand({
  name: 'updateUser',
  description: 'Updates a user account',
  kind: 'sync',
  roles: ALL_ROLES,
  response: 'user',
  sensitive: ['password', 'currentpassword'],
  params: [
    { name: 'id', type: 'uuid', required: true, description: 'User uuid' },
    { name: 'password', type: 'string', description: 'Clear text password (stored as a salted scrypt hash). A user changing its own password must give currentpassword as well; admins need not.' },
    { name: 'currentpassword', type: 'string', description: 'Current password that was being used by the user. You must inform the current password when updating the password.' },
    { name: 'email', type: 'string', description: 'email' },
    { name: 'firstname', type: 'string', description: 'first name' },
    { name: 'lastname', type: 'string', description: 'last name' },
    { name: 'username', type: 'string', description: 'Unique username' },
  ],
  async handler({ engine, caller }, args) {
    const user = targetUser(engine.db, caller, args.uuid('id')!);
    for (const name of ['username', 'firstname', 'lastname']) {
      if (args.str(name)?.trim() === '') throw ApiError.param(`${name}: cannot be blank`);
    }
    const password = args.str('password');
    await engine.accounts.updateUser(user.id, {
      password,
      currentPassword: args.str('currentpassword'),
      // As CloudStack: root and domain admins set a password without the current one.
      adminReset: caller.role !== 'User',
      firstname: args.str('firstname'),
      lastname: args.str('lastname'),
      email: args.str('email'),
      username: args.str('username'),
    });
    // The first admin's password file has done its job once that password is changed.
    if (password !== undefined && user.id === engine.accounts.localAdmin().userId) {
      const file = initialAdminPasswordFile(engine.dataDir);
      if (existsSync(file)) unlinkSync(file);
    }
    engine.events.record({
      type: 'USER.UPDATE', description: `user ${user.username} updated${password !== undefined ? ' (password changed)' : ''}`,
      userId: caller.userId, accountId: user.account_id, domainId: caller.domainId, resourceType: 'User', resourceUuid: user.uuid,
    });
    return userView(engine.db, user.id);
  },
});
