/**
 * The event log follows the 'events' live channel in Chromium against `kiln serve`: events that
 * another client causes (Debian's `cloudstack`, signed) appear at the top of the log as they
 * happen, and the page makes no listEvents request for them (it used to load its page again,
 * debounced, after every burst). A filter set in the view applies to the pushed events too: one
 * that does not match never shows. Every listEvents request the page makes is counted
 * (playwright's request events).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Request } from 'playwright-core';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { launchChromium } from '../helpers/browser.js';
import { csClient } from '../helpers/cs-client.js';
import { demoCatalog, goTo, openUi, type UiSession } from './ui-helpers.js';

let kiln: KilnProcess;
let browser: Browser;
let ui: UiSession;
const cs = csClient(() => kiln);
/** The page's listEvents requests, as their form parameters. */
const eventLoads: URLSearchParams[] = [];
const NAMES = Array.from({ length: 6 }, (_, i) => `ev-${i + 1}`);
const ids: Record<string, string> = {};

const log = () => ui.page.getByRole('table', { name: 'Events' });
const descriptions = async () => (await log().locator('tbody tr td:nth-child(5)').allInnerTexts()).map((t) => t.trim());
/** An event another client causes on VM NAME: a new group, which records VM.UPDATE "VM <name> (…) updated: group". */
const touch = async (name: string, group: string) => {
  const r = await cs(['updateVirtualMachine', `id=${ids[name]}`, `group=${group}`]);
  expect(r.code, `${r.stderr} ${JSON.stringify(r.json)}`).toBe(0);
};

describe('the event log follows the live channel', () => {
  beforeAll(async () => {
    kiln = await startKiln();
    browser = await launchChromium();
    ui = await openUi(browser, kiln);
    ui.page.on('request', (request: Request) => {
      const params = new URLSearchParams(request.postData() ?? '');
      if (params.get('command') === 'listEvents') eventLoads.push(params);
    });
    const catalog = await demoCatalog(ui);
    for (const name of NAMES) {
      const r = await cs(['deployVirtualMachine', `zoneid=${catalog.zoneid}`, `templateid=${catalog.templateid}`, `serviceofferingid=${catalog.serviceofferingid}`, `name=${name}`, 'startvm=false']);
      expect(r.code, r.stderr).toBe(0);
      ids[name] = (r.json['virtualmachine'] as { id: string }).id;
    }
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await kiln?.stop();
  });

  it('adds the events another client causes at the top, with no listEvents request', async () => {
    await goTo(ui, '#/events', 'Jobs and events');
    await log().waitFor();
    await expect.poll(() => eventLoads.length).toBe(1);
    eventLoads.length = 0;

    // Twelve events in two bursts, one VM at a time and all at once.
    for (const name of NAMES) await touch(name, 'g1');
    await Promise.all(NAMES.map((name) => touch(name, 'g2')));
    const updated = (name: string) => (d: string) => d.startsWith(`VM ${name} (`) && d.endsWith('updated: group');
    await expect.poll(async () => { const shown = await descriptions(); return NAMES.every((name) => shown.filter(updated(name)).length === 2); }, { timeout: 15_000 }).toBe(true);
    // Newest first: the first burst's last event is below every event of the second burst.
    const shown = await descriptions();
    expect(shown.findIndex(updated('ev-6'))).toBeLessThan(12);
    expect(shown.slice(0, 12).every((d) => d.endsWith('updated: group'))).toBe(true);
    expect(await log().locator('tbody tr').first().locator('td').nth(2).innerText()).toBe('VM.UPDATE');
    await ui.shot('live-events');
    // Not one request for the twelve events (the page used to reload after every burst).
    await ui.page.waitForTimeout(800);
    expect(eventLoads.length).toBe(0);
  });

  it('applies the filter to the events it is pushed', async () => {
    await ui.page.getByRole('search', { name: 'Filter events' }).getByRole('searchbox').fill('ev-2');
    // The filter change itself loads the page once (the engine filters), debounced.
    await expect.poll(() => eventLoads.map((p) => p.get('keyword'))).toEqual(['ev-2']);
    await expect.poll(async () => (await descriptions()).every((d) => d.includes('ev-2'))).toBe(true);
    eventLoads.length = 0;
    const groupChanges = async (name: string) => (await descriptions()).filter((d) => d.startsWith(`VM ${name} (`) && d.endsWith('updated: group')).length;
    expect(await groupChanges('ev-2')).toBe(2);

    await touch('ev-3', 'g3');
    await touch('ev-2', 'g3');
    await expect.poll(() => groupChanges('ev-2'), { timeout: 15_000 }).toBe(3);
    // The event on ev-3 came through the same channel, before the ev-2 one, and was left out.
    expect((await descriptions()).some((d) => d.includes('ev-3'))).toBe(false);
    await ui.page.waitForTimeout(800);
    expect(eventLoads.length).toBe(0);
    // It is in the log, as a filter that matches it shows.
    await ui.page.getByRole('search', { name: 'Filter events' }).getByRole('searchbox').fill('ev-3');
    await expect.poll(() => groupChanges('ev-3')).toBe(3);
    await ui.shot('live-events-filtered');
  });
});
