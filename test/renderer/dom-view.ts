/**
 * One view under test in happy-dom, for the renderer tests that mount a page or dialog against the
 * fake bridge (dom-bridge.ts, imported first here, so `window.kiln` is in place before the
 * transport is). Each test gets a fresh React root in the file's container (unmounted after it) and
 * a bridge that answers from ANSWERS: listApis publishes the PUBLISHED commands (as an admin's
 * listApis lists them), and a command with no answer fails the call as unexpected. render() loads
 * the API catalog first, as the app does before it shows any view.
 */
import { invoke } from './dom-bridge';
import { afterEach, beforeEach } from 'vitest';
import { act, type ReactElement } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import type { ApiEnvelope, ApiParams } from '../../preload/api';
import { listApisResponse } from './list-apis-fixture';

/** What the fake engine answers per command (the inside of `<command>response`). */
export type Answers = Record<string, (params: ApiParams | undefined) => unknown>;

export const wait = (ms: number) => act(() => new Promise<void>((r) => setTimeout(r, ms)));

export interface DomView {
  container: HTMLElement;
  /** Loads the API catalog, renders ELEMENT and gives its first reads SETTLE_MS to land. */
  render(element: ReactElement, settleMs?: number): Promise<void>;
}

export function domView(published: string[], answers: Answers): DomView {
  const container = document.createElement('div');
  document.body.appendChild(container);
  let root: Root;
  beforeEach(() => {
    invoke.mockReset();
    invoke.mockImplementation(async (command, params) => {
      if (command === 'listApis') return listApisResponse(published.map((name) => ({ name, isasync: false, params: [] })));
      const answer = answers[command];
      if (!answer) throw new Error(`unexpected ${command}`);
      return answer(params) as ApiEnvelope;
    });
    root = createRoot(container);
  });
  afterEach(() => {
    act(() => root.unmount());
  });
  return {
    container,
    async render(element, settleMs = 30) {
      const { useApiCatalog } = await import('../../renderer/src/stores/api-catalog-store');
      await useApiCatalog.getState().load();
      await act(async () => root.render(element));
      await wait(settleMs);
    },
  };
}
