// @vitest-environment happy-dom
/**
 * The deploy wizard's first choices (the first zone once the zone list arrives, the zone's first
 * network once its networks do) never overwrite a choice the user made in the meantime. React
 * runs the effect that makes such a choice after the list is painted, in a later task; a zone
 * picked in between (Playwright's selectOption did, on a loaded CI machine) was replaced by the
 * first zone, read from the stale render, and the wizard then offered that zone's templates (CI:
 * 'Kiln appliance' of the vSphere zone never offered, the Demo zone chosen instead); and a zone
 * changed in between got the previous zone's first network. Here the pick lands in exactly that
 * gap: the list is in the DOM and its effect has not run yet (React's own scheduler, outside act).
 */
import { invoke } from './dom-bridge';
import { afterEach, describe, expect, it } from 'vitest';
import { act, createElement } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import type { ApiEnvelope, ApiParams } from '../../preload/api';

const ZONES = [{ id: 'z-demo', name: 'Demo' }, { id: 'z-vs', name: 'vSphere' }];
const TEMPLATES: Record<string, { id: string; name: string }[]> = {
  'z-demo': [{ id: 't-debian', name: 'Debian 12' }],
  'z-vs': [{ id: 't-ova', name: 'Kiln appliance' }],
};
const NETWORKS: Record<string, { id: string; name: string; zoneid: string }[]> = {
  'z-demo': [{ id: 'n-demo', name: 'Demo L2', zoneid: 'z-demo' }],
  'z-vs': [{ id: 'n-vs', name: 'VM Network', zoneid: 'z-vs' }],
};
const actEnvironment = (on: boolean) => ((globalThis as unknown as { IS_REACT_ACT_ENVIRONMENT: boolean }).IS_REACT_ACT_ENVIRONMENT = on);
const nextTask = () => new Promise<void>((r) => setTimeout(r, 0));
const texts = (select: HTMLSelectElement) => [...select.options].map((o) => o.textContent);

let root: Root | undefined;
afterEach(() => {
  actEnvironment(true);
  act(() => root?.unmount());
  root = undefined;
});

/** Mounts the wizard with a fresh draft; ANSWER gives each command's answer (a promise the test may hold back). */
async function mount(published: string[], answer: (command: string, params: ApiParams | undefined) => Promise<ApiEnvelope> | ApiEnvelope) {
  invoke.mockReset();
  invoke.mockImplementation(async (command, params) => answer(command, params));
  // The catalog as listApis would give it (set here: the store loads it once per module).
  const { useApiCatalog } = await import('../../renderer/src/stores/api-catalog-store');
  useApiCatalog.setState({ apis: new Map(published.map((name) => [name.toLowerCase(), { name, isasync: false, params: [] }])), loaded: true });
  const { useDeployForm } = await import('../../renderer/src/stores/deploy-form-store');
  useDeployForm.getState().reset();
  const { DeployWizard } = await import('../../renderer/src/views/DeployWizard');
  const container = document.createElement('div');
  document.body.appendChild(container);
  root = createRoot(container);
  await act(async () => root!.render(createElement(DeployWizard)));
  return { container, useDeployForm, zone: () => container.querySelector('#field-zone') as HTMLSelectElement };
}

/**
 * Lets React run as in the browser (outside act) until READY says the list is in the DOM, then picks
 * zone ID in the same task, before the effects of that render run; returns what DRAFT said then.
 */
async function pickInTheGap<T>(zone: () => HTMLSelectElement, ready: () => boolean, id: string, draft: () => T): Promise<T | undefined> {
  actEnvironment(false);
  let before: T | undefined;
  for (let i = 0; i < 100 && before === undefined; i++) {
    await nextTask();
    if (ready()) {
      before = draft();
      zone().value = id;
      zone().dispatchEvent(new Event('change', { bubbles: true }));
    }
  }
  for (let i = 0; i < 10; i++) await nextTask();
  actEnvironment(true);
  return before;
}

describe('deploy wizard: the zone the user picks', () => {
  it('a zone picked before the first-zone default was applied stays picked, and its templates are offered', async () => {
    let answerZones!: () => void;
    const zonesAnswered = new Promise<void>((r) => (answerZones = r));
    const { container, useDeployForm, zone } = await mount([], (command, params) => {
      if (command === 'listZones') return zonesAnswered.then(() => ({ count: 2, zone: ZONES }));
      if (command === 'listTemplates') return { count: 1, template: TEMPLATES[String(params?.['zoneid'])] ?? [] };
      return { count: 0 };
    });
    expect(texts(zone())).toEqual(['Loading…']);

    answerZones();
    const zoneWhenPicked = await pickInTheGap(zone, () => zone().options.length === 3, 'z-vs', () => useDeployForm.getState().draft.zoneid);
    // The pick did land in the gap (else this test would prove nothing).
    expect(zoneWhenPicked).toBe('');

    expect(zone().value).toBe('z-vs');
    expect(zone().selectedOptions[0]?.textContent).toBe('vSphere');
    const next = [...container.querySelectorAll('button')].find((b) => b.textContent === 'Next')!;
    await act(async () => next.click());
    await act(() => new Promise<void>((r) => setTimeout(r, 30)));
    expect(texts(container.querySelector('#field-template') as HTMLSelectElement)).toEqual(['Choose…', 'Kiln appliance']);
  });

  it('a zone picked before the previous zone\'s first network was applied gets its own first network, not that one', async () => {
    // An admin's wizard (listHosts published) also lists the zone's pods: they arrive in the same
    // render as its networks, and show that render is in the DOM.
    let answerDemo!: () => void;
    const demoAnswered = new Promise<void>((r) => (answerDemo = r));
    const { container, useDeployForm, zone } = await mount(['listHosts'], (command, params) => {
      const zoneid = String(params?.['zoneid']);
      const held = zoneid === 'z-demo' ? demoAnswered : Promise.resolve();
      if (command === 'listZones') return { count: 2, zone: ZONES };
      if (command === 'listNetworks') return held.then(() => ({ count: 1, network: NETWORKS[zoneid] ?? [] }));
      if (command === 'listPods') return held.then(() => ({ count: 1, pod: [{ id: `p-${zoneid}`, name: `pod of ${zoneid}` }] }));
      return { count: 0 };
    });
    // The first zone chosen by default; its networks and pods not answered yet.
    await act(() => new Promise<void>((r) => setTimeout(r, 30)));
    expect(zone().value).toBe('z-demo');
    const pod = () => container.querySelector('#field-pod') as HTMLSelectElement;
    expect(texts(pod())).toEqual(['Any']);

    answerDemo();
    const networksWhenPicked = await pickInTheGap(zone, () => pod().options.length === 2, 'z-vs', () => useDeployForm.getState().draft.networkids);
    // Demo's networks were in, and their first had not been chosen yet.
    expect(networksWhenPicked).toEqual([]);
    await act(() => new Promise<void>((r) => setTimeout(r, 30)));

    expect(zone().selectedOptions[0]?.textContent).toBe('vSphere');
    // The Networks step: vSphere's first network ticked (Demo's would not even be shown there).
    await act(async () => useDeployForm.getState().goTo(3));
    const ticked = [...container.querySelectorAll('label.check')].filter((l) => l.querySelector<HTMLInputElement>('input')?.checked).map((l) => l.textContent?.trim());
    expect(ticked).toEqual([expect.stringMatching(/^VM Network\b/)]);
    expect(useDeployForm.getState().draft.networkids).toEqual(['n-vs']);
  });
});
