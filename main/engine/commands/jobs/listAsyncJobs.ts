import { defineCommand, ALL_ROLES } from '../../registry/types.js';

export default defineCommand({
  name: 'listAsyncJobs',
  description: 'Lists all pending asynchronous jobs for the account.',
  kind: 'list',
  roles: ALL_ROLES,
  response: 'asyncjobs',
  params: [{ name: 'startdate', type: 'date', description: 'The start date of the async job (use format "yyyy-MM-dd\'T\'HH:mm:ss\'+\'SSSS")' }],
  handler({ engine, caller }, args, page) {
    return engine.jobs.list({ accountId: caller.role === 'Admin' ? undefined : caller.accountId, startDate: args.str('startdate') }, page);
  },
});
