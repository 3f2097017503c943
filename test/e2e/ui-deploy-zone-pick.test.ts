/**
 * The deploy wizard keeps the zone the user picks even when it is picked the moment the zone list
 * is shown, before React has run the effect that picks the first zone by default (in Chromium that
 * effect runs a task after the list's paint). Playwright's selectOption landed in that gap on a
 * loaded CI machine (ui-vsphere's OVA case): the first zone (Demo) replaced the vSphere zone just
 * picked, the wizard offered Demo's templates and 'Kiln appliance' never came. Here the pick is made
 * from a MutationObserver, in the microtask right after React put the options in, which is always
 * in that gap.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { launchChromium } from '../helpers/browser.js';
import { goTo, inPage, openUi, type UiSession } from './ui-helpers.js';

describe('deploy wizard: a zone picked as soon as the list is shown (Chromium)', () => {
  let kiln: KilnProcess;
  let browser: Browser;
  let ui: UiSession;
  let page: Page;

  beforeAll(async () => {
    kiln = await startKiln();
    browser = await launchChromium();
    ui = await openUi(browser, kiln);
    page = ui.page;
    page.setDefaultTimeout(10_000);
    await ui.api('createZone', { name: 'Second' });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await kiln?.stop();
  });

  it('stays on the zone picked, and offers that zone\'s templates (none), not the first zone\'s', async () => {
    await goTo(ui, '#/hosts', 'Hosts');
    const picked = inPage<{ shownBefore: string; pickedValue: string }>(
      page,
      `new Promise((resolve) => {
        const pick = () => {
          const select = document.querySelector('#field-zone');
          const option = select && [...select.options].find((o) => o.textContent === 'Second');
          if (!option) return false;
          observer.disconnect();
          const shownBefore = select.value;
          select.value = option.value;
          select.dispatchEvent(new Event('change', { bubbles: true }));
          resolve({ shownBefore, pickedValue: option.value });
          return true;
        };
        const observer = new MutationObserver(pick);
        observer.observe(document.body, { childList: true, subtree: true });
      })`,
    );
    // The zones the wizard then lists templates for (it does once a zone is chosen), answered.
    const templateZones: string[] = [];
    page.on('requestfinished', (request) => {
      const form = new URLSearchParams(request.postData() ?? '');
      if (form.get('command') === 'listTemplates') templateZones.push(form.get('zoneid') ?? '');
    });
    await page.getByRole('link', { name: 'Deploy VM' }).click();
    const { shownBefore, pickedValue } = await picked;
    // Picked in the gap: the first zone had not been chosen by default yet (the select still on its empty choice).
    expect(shownBefore).toBe('');
    await expect.poll(() => templateZones.length).toBeGreaterThan(0);
    const zoneNames = Object.fromEntries(((await ui.api('listZones'))['zone'] as { id: string; name: string }[]).map((z) => [z.id, z.name]));
    expect([...new Set(templateZones.map((id) => zoneNames[id]))]).toEqual(['Second']);
    expect(zoneNames[pickedValue]).toBe('Second');
    expect(await page.getByRole('combobox', { name: 'Zone' }).locator('option:checked').innerText()).toBe('Second');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('heading', { name: /Image/, level: 2 }).waitFor();
    await expect.poll(() => page.getByRole('combobox', { name: 'Template' }).locator('option').allInnerTexts()).toEqual(['Choose…']);
  });
});
