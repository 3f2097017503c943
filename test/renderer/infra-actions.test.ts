/**
 * The zone, pod and cluster actions of the Hosts page follow listApis: each is offered only when
 * the command and the parameter it sets are published for the caller (a user's listApis has
 * neither), Disable and Enable by the record's allocation state, and a value is refused before the
 * call with the published rule's words (allocationstate's pattern, clustername's length).
 */
import './fake-bridge';
import { describe, expect, it } from 'vitest';
import { INFRA_ACTIONS, infraActionsFor, infraParamsProblem, zoneDetailRows, zoneDetailsParams, zoneEditFields, zoneEditParams, zoneEditValues, zoneFieldProblem, zoneTakesDetails } from '../../renderer/src/actions/infra-actions';
import type { ApiInfo } from '../../renderer/src/stores/api-catalog-store';
import { IPV4_RULE } from '../../main/engine/registry/param-rules';

const id = { name: 'id', required: true, type: 'uuid' };
const allocation = { name: 'allocationstate', required: false, type: 'string', length: 255, pattern: '^(?:Enabled|Disabled)$', patternmessage: 'is not an allocation state: Enabled or Disabled' };

/** As the engine publishes them to a root admin (main/engine/commands/infra/update*.ts, delete*.ts). */
function adminApis(): ApiInfo[] {
  return [
    { name: 'updateZone', isasync: false, params: [id, { name: 'name', required: false, type: 'string', length: 255 }, allocation] },
    { name: 'deleteZone', isasync: false, params: [id] },
    { name: 'updatePod', isasync: false, params: [id, { name: 'name', required: false, type: 'string', length: 255 }, allocation] },
    { name: 'deletePod', isasync: false, params: [id] },
    { name: 'updateCluster', isasync: false, params: [id, { name: 'clustername', required: false, type: 'string', length: 255 }, allocation] },
    { name: 'deleteCluster', isasync: false, params: [id] },
  ];
}
const catalog = (apis: ApiInfo[]) => new Map(apis.map((a) => [a.name.toLowerCase(), a]));
const labels = (apis: Map<string, ApiInfo>, kind: 'zone' | 'pod' | 'cluster', allocationstate = 'Enabled') => infraActionsFor(apis, kind, { id: 'x', name: 'X', allocationstate }).map((a) => a.label);

describe('zone, pod and cluster actions', () => {
  it('offers rename, disable or enable by the record\'s state, and delete, for what listApis publishes', () => {
    const apis = catalog(adminApis());
    expect(labels(apis, 'pod')).toEqual(['Rename…', 'Disable', 'Delete']);
    expect(labels(apis, 'cluster', 'Disabled')).toEqual(['Rename…', 'Enable', 'Delete']);
    // A user's listApis has none of the commands: nothing is offered.
    expect(labels(catalog([]), 'zone')).toEqual([]);
    // An engine that publishes updateZone without allocationstate (or without name) gets no Disable (or Rename).
    const noState = adminApis().map((a) => (a.name === 'updateZone' ? { ...a, params: a.params.filter((p) => p.name !== 'allocationstate') } : a));
    expect(labels(catalog(noState), 'zone')).toEqual(['Rename…', 'Delete']);
    const noDelete = adminApis().filter((a) => a.name !== 'deleteCluster');
    expect(labels(catalog(noDelete), 'cluster')).toEqual(['Rename…', 'Disable']);
  });

  it('checks the values against the published rules before the call', () => {
    const apis = catalog(adminApis());
    const rename = INFRA_ACTIONS.find((a) => a.id === 'rename')!;
    const disable = INFRA_ACTIONS.find((a) => a.id === 'disable')!;
    const record = { id: 'c1', name: 'Busy Cluster' };
    expect(rename.params('cluster', record, 'Quiet')).toEqual({ id: 'c1', clustername: 'Quiet' });
    expect(infraParamsProblem(apis, rename, 'cluster', rename.params('cluster', record, 'Quiet'))).toBeUndefined();
    expect(infraParamsProblem(apis, rename, 'cluster', rename.params('cluster', record, 'y'.repeat(256)))).toBe('Parameter clustername is 256 characters long; the limit is 255');
    expect(infraParamsProblem(apis, rename, 'pod', rename.params('pod', record, '  '))).toBe('name: a pod name cannot be empty');
    expect(infraParamsProblem(apis, disable, 'zone', disable.params('zone', record))).toBeUndefined();
    // An engine whose rule does not take the value: the UI says so in the engine's words instead of calling.
    const strict = catalog(adminApis().map((a) => (a.name === 'updateZone' ? { ...a, params: a.params.map((p) => (p.name === 'allocationstate' ? { ...p, pattern: '^Enabled$' } : p)) } : a)));
    expect(infraParamsProblem(strict, disable, 'zone', disable.params('zone', record))).toBe('allocationstate: "Disabled" is not an allocation state: Enabled or Disabled');
  });

  it('offers Unmanage… or Manage on a cluster by its managed state, and says what Unmanage does', () => {
    const withManaged = catalog(adminApis().map((a) => (a.name === 'updateCluster' ? { ...a, params: [...a.params, { name: 'managedstate', required: false, type: 'string', pattern: '^(?:Managed|Unmanaged)$', patternmessage: 'is not a managed state: Managed or Unmanaged' }] } : a)));
    const of = (managedstate: string) => infraActionsFor(withManaged, 'cluster', { id: 'c', name: 'C', allocationstate: 'Enabled', managedstate }).map((a) => a.label);
    expect(of('Managed')).toEqual(['Rename…', 'Disable', 'Unmanage…', 'Delete']);
    expect(of('Unmanaged')).toEqual(['Rename…', 'Disable', 'Manage', 'Delete']);
    // Only on clusters, and only when updateCluster publishes managedstate.
    expect(infraActionsFor(withManaged, 'pod', { id: 'p', name: 'P', managedstate: 'Managed' }).map((a) => a.label)).not.toContain('Unmanage…');
    expect(labels(catalog(adminApis()), 'cluster')).not.toContain('Unmanage…');
    const unmanage = INFRA_ACTIONS.find((a) => a.id === 'unmanage')!;
    const manage = INFRA_ACTIONS.find((a) => a.id === 'manage')!;
    const record = { id: 'c1', name: 'Rack 4' };
    expect(unmanage.params('cluster', record)).toEqual({ id: 'c1', managedstate: 'Unmanaged' });
    expect(manage.params('cluster', record)).toEqual({ id: 'c1', managedstate: 'Managed' });
    expect(manage.confirm).toBeUndefined();
    const text = unmanage.confirm!('cluster', record);
    expect(text).toContain('Unmanage cluster Rack 4?');
    expect(text).toContain('disconnects its hosts (they show Disconnected)');
    expect(text).toContain('no HA');
    expect(text).toContain('until the cluster is managed again');
    expect(infraParamsProblem(withManaged, unmanage, 'cluster', unmanage.params('cluster', record))).toBeUndefined();
  });

  it('offers Edit… on a zone with the fields updateZone publishes, pre-filled, sends only what changed, checked by the published rules', () => {
    // As the engine publishes updateZone's DNS parameters (IPV4_RULE).
    const ipv4Rule = { pattern: IPV4_RULE.pattern, patternmessage: IPV4_RULE.message };
    const zoneParams = [
      { name: 'dns1', ...ipv4Rule }, { name: 'dns2', ...ipv4Rule }, { name: 'internaldns1', ...ipv4Rule }, { name: 'internaldns2', ...ipv4Rule },
      { name: 'ip6dns1' }, { name: 'ip6dns2' }, { name: 'guestcidraddress' }, { name: 'domain' },
    ].map((p) => ({ required: false, type: 'string', ...p }));
    const full = catalog(adminApis().map((a) => (a.name === 'updateZone' ? { ...a, params: [...a.params, ...zoneParams, { name: 'sortkey', required: false, type: 'integer' }] } : a)));
    expect(labels(full, 'zone')).toEqual(['Rename…', 'Edit…', 'Disable', 'Delete']);
    expect(labels(full, 'pod')).not.toContain('Edit…');
    // An engine whose updateZone has none of the fields: no Edit…; with some, the form has those.
    expect(labels(catalog(adminApis()), 'zone')).not.toContain('Edit…');
    expect(zoneEditFields(full).map((f) => f.label)).toEqual(['DNS 1', 'DNS 2', 'Internal DNS 1', 'Internal DNS 2', 'IPv6 DNS 1', 'IPv6 DNS 2', 'Guest CIDR', 'Network domain', 'Sort key']);
    const some = catalog(adminApis().map((a) => (a.name === 'updateZone' ? { ...a, params: [...a.params, ...zoneParams.slice(0, 2)] } : a)));
    expect(zoneEditFields(some).map((f) => f.param)).toEqual(['dns1', 'dns2']);

    const zone = { id: 'z1', name: 'Lab', dns1: '8.8.8.8', guestcidraddress: '10.1.0.0/16', domain: 'lab.example' };
    const values = zoneEditValues(zone);
    expect(values).toMatchObject({ dns1: '8.8.8.8', dns2: '', guestcidraddress: '10.1.0.0/16', domain: 'lab.example', sortkey: '' });
    expect(zoneEditParams(zone, values)).toBeUndefined();
    // Changed and emptied fields are sent (empty clears), unchanged ones are not.
    expect(zoneEditParams(zone, { ...values, dns2: ' 1.1.1.1 ', domain: '' })).toEqual({ id: 'z1', dns2: '1.1.1.1', domain: '' });
    expect(zoneEditParams(zone, { ...values, sortkey: '3' })).toEqual({ id: 'z1', sortkey: '3' });

    // The published rules: an IPv4 DNS's pattern, the sort key's integer type; a CIDR has no published rule (the engine's 431 says).
    expect(zoneFieldProblem(full, 'dns1', '8.8.8.300')).toBe('dns1: "8.8.8.300" is not an IPv4 address (four numbers 0-255 separated by dots)');
    expect(zoneFieldProblem(full, 'internaldns2', '10.0.0.2')).toBeUndefined();
    expect(zoneFieldProblem(full, 'sortkey', 'first')).toBe('sortkey: "first" is not an integer');
    expect(zoneFieldProblem(full, 'sortkey', '-2')).toBeUndefined();
    expect(zoneFieldProblem(full, 'guestcidraddress', '10.1.0.5/16')).toBeUndefined();
    expect(zoneFieldProblem(full, 'dns1', '')).toBeUndefined();
  });

  it("sends a zone's new and changed details to updateZone (it merges them, as CloudStack's editZone), removes the others with removeResourceDetail, and says what cannot be sent", () => {
    const withDetails = catalog(adminApis().map((a) => (a.name === 'updateZone' ? { ...a, params: [...a.params, { name: 'details', required: false, type: 'map' }] } : a)));
    expect(zoneTakesDetails(withDetails)).toBe(true);
    expect(zoneTakesDetails(catalog(adminApis()))).toBe(false);
    // Details alone are enough for Edit….
    expect(labels(withDetails, 'zone')).toEqual(['Rename…', 'Edit…', 'Disable', 'Delete']);
    const zone = { id: 'z1', name: 'Lab', resourcedetails: { rack: 'A', owner: 'ops' } };
    const rows = zoneDetailRows(zone);
    expect(rows).toEqual([{ key: 'rack', value: 'A' }, { key: 'owner', value: 'ops' }]);
    const both = { cleanup: true, removeOne: true };
    expect(zoneDetailsParams(zone, rows, both)).toEqual({ params: {}, remove: [] });
    // A blank row added and left empty changes nothing.
    expect(zoneDetailsParams(zone, [...rows, { key: '', value: '' }], both)).toEqual({ params: {}, remove: [] });
    // Only what changed is sent (owner, unchanged, is kept by the merge).
    const changed = zoneDetailsParams(zone, [{ key: 'rack', value: 'B' }, { key: 'owner', value: 'ops' }, { key: ' floor ', value: '2' }], both);
    expect(changed).toEqual({ params: { 'details[0].key': 'rack', 'details[0].value': 'B', 'details[1].key': 'floor', 'details[1].value': '2' }, remove: [] });
    expect(zoneEditParams(zone, zoneEditValues(zone), changed.params)).toEqual({ id: 'z1', ...changed.params });
    // A row removed (or renamed) is a removeResourceDetail of its key.
    expect(zoneDetailsParams(zone, [{ key: 'rack', value: 'A' }], both)).toEqual({ params: {}, remove: ['owner'] });
    expect(zoneDetailsParams(zone, [{ key: 'rack', value: 'A' }, { key: 'team', value: 'ops' }], both)).toEqual({ params: { 'details[0].key': 'team', 'details[0].value': 'ops' }, remove: ['owner'] });
    // None left: one updateZone cleanupdetails=true.
    expect(zoneDetailsParams(zone, [], both)).toEqual({ params: { cleanupdetails: 'true' }, remove: [] });
    expect(zoneDetailsParams(zone, [{ key: '', value: 'x' }], both).problem).toBe('details: the value "x" needs a key');
    expect(zoneDetailsParams(zone, [{ key: 'a', value: '1' }, { key: 'a', value: '2' }], both).problem).toBe('details: the key a is given twice');
    // An engine without removeResourceDetail (and cleanupdetails): what cannot be removed is said.
    expect(zoneDetailsParams(zone, [{ key: 'rack', value: 'A' }]).problem).toBe('details: updateZone only adds or sets details, and this engine has no removeResourceDetail, so detail owner cannot be removed');
    expect(zoneDetailsParams(zone, []).problem).toBe('details: updateZone only adds or sets details, and this engine has no removeResourceDetail, so details rack, owner cannot be removed');
    expect(zoneDetailsParams(zone, [], { cleanup: true })).toEqual({ params: { cleanupdetails: 'true' }, remove: [] });
    expect(zoneDetailsParams({ id: 'z2', name: 'Bare' }, [])).toEqual({ params: {}, remove: [] });
  });
});
