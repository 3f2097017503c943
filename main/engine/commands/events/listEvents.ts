import { defineCommand, ALL_ROLES } from '../../registry/types.js';

export default defineCommand({
  name: 'listEvents',
  description: 'A command to list events.',
  kind: 'list',
  roles: ALL_ROLES,
  response: 'event',
  params: [
    { name: 'type', type: 'string', description: 'the event type (see event types)' },
    { name: 'level', type: 'string', description: 'the event level (INFO, WARN, ERROR)' },
    { name: 'startdate', type: 'date', description: 'the start date range of the list you want to retrieve' },
    { name: 'enddate', type: 'date', description: 'the end date range of the list you want to retrieve' },
    { name: 'resourceid', type: 'uuid', description: 'the ID of the resource associated with the event' },
  ],
  handler({ engine, caller }, args, page) {
    return engine.events.list({
      accountId: caller.role === 'Admin' ? undefined : caller.accountId,
      type: args.str('type'),
      level: args.str('level'),
      startDate: args.str('startdate'),
      endDate: args.str('enddate'),
      resourceUuid: args.uuid('resourceid'),
      keyword: args.str('keyword'),
    }, page);
  },
});
