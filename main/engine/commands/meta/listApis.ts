import { defineCommand, ALL_ROLES } from '../../registry/types.js';

export default defineCommand({
  name: 'listApis',
  description: 'lists all available apis on the server, as provided by the Api Discovery plugin; Kiln adds vmstates, the VM states in which a VM command applies, capabilities, the host capabilities (listHosts capabilities) the command needs, and per parameter pattern and patternmessage, the format the value must follow (the UI validates with them).',
  kind: 'list',
  roles: ALL_ROLES,
  response: 'api',
  params: [{ name: 'name', type: 'string', description: 'API name' }],
  handler({ engine, caller }, args) {
    const name = args.str('name')?.toLowerCase();
    return engine.registry
      .visibleTo(caller)
      .filter((def) => !name || def.name.toLowerCase() === name)
      .map((def) => ({
        name: def.name,
        description: def.description,
        isasync: def.kind === 'async' || def.kind === 'asyncCreate',
        since: def.since ?? '4.0.0',
        type: def.kind === 'list' ? 'list' : def.kind,
        related: '',
        response: [],
        // As CloudStack's API discovery does, a parameter the caller's role may not pass is not listed
        // (a user's startVirtualMachine has no hostid), so a client can offer exactly what it may use.
        params: def.params.filter((p) => !p.roles || p.roles.includes(caller.role)).map((p) => ({ name: p.name, description: p.description, type: p.type, length: p.maxLength ?? 255, required: p.required ?? false, since: p.since ?? '', related: '', ...(p.vmStates ? { vmstates: p.vmStates } : {}), ...(p.rule ? { pattern: p.rule.pattern, patternmessage: p.rule.message } : {}) })),
        ...(def.vmStates ? { vmstates: def.vmStates } : {}),
        ...(def.capabilities ? { capabilities: def.capabilities } : {}),
      }));
  },
});
