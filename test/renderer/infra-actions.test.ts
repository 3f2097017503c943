/**
 * The zone, pod and cluster actions of the Hosts page follow listApis: each is offered only when
 * the command and the parameter it sets are published for the caller (a user's listApis has
 * neither), Disable and Enable by the record's allocation state, and a value is refused before the
 * call with the published rule's words (allocationstate's pattern, clustername's length).
 */
import './fake-bridge';
import { describe, expect, it } from 'vitest';
import { INFRA_ACTIONS, infraActionsFor, infraParamsProblem } from '../../renderer/src/actions/infra-actions';
import type { ApiInfo } from '../../renderer/src/stores/api-catalog-store';

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
});
