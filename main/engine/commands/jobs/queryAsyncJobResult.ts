import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { canAccessAccount } from '../../vm/access.js';

export default defineCommand({
  name: 'queryAsyncJobResult',
  description: 'Retrieves the current status of asynchronous job.',
  kind: 'sync',
  roles: ALL_ROLES,
  response: '',
  params: [{ name: 'jobid', type: 'uuid', required: true, description: 'the ID of the asynchronous job' }],
  handler({ engine, caller }, args) {
    const jobId = args.uuid('jobid')!;
    const owner = engine.jobs.ownerAccountOf(jobId);
    const job = owner !== undefined && canAccessAccount(engine.db, caller, owner) ? engine.jobs.get(jobId) : undefined;
    if (!job) throw ApiError.param(`jobid: no job ${jobId} that this account can see`);
    return job;
  },
});
