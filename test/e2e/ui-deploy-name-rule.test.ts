/**
 * The deploy wizard's name check in Chromium against `kiln serve`: it comes from the engine's
 * listApis (deployVirtualMachine's `name` pattern), so `1web` is refused under the field (once: the
 * step keeps it and does not repeat it) with exactly the words of the engine's 431, and a valid name moves on.
 */
import { describe, expect, it } from 'vitest';
import { demoCatalog, serveUiSuite, wizardToNameStep, type UiSession } from './ui-helpers.js';

let ui: UiSession;

describe('deploy wizard name rule in Chromium', () => {
  serveUiSuite((suite) => {
    ui = suite.ui;
  });

  it("refuses 1web with the engine's message, and takes web1", async () => {
    const { page } = ui;
    const engine = await ui.api('deployVirtualMachine', { ...(await demoCatalog(ui)), name: '1web' });
    expect(engine['errorcode']).toBe(431);
    const message = String(engine['errortext']);
    expect(message).toMatch(/^name: "1web" is not a valid hostname/);

    await wizardToNameStep(page);

    const name = page.getByLabel("Name (the guest's hostname)");
    await name.fill('1web');
    const hint = page.locator('#field-name-the-guest-s-hostname--hint');
    expect(await hint.innerText()).toBe(message);
    expect(await name.getAttribute('aria-invalid')).toBe('true');
    // The step will not move on; it says why once, under the field (not again in a list), and focuses it.
    await page.getByRole('button', { name: 'Next' }).click();
    await expect.poll(() => page.evaluate('document.activeElement?.id')).toBe('field-name-the-guest-s-hostname-');
    expect(await page.locator('#wizard-step-title').innerText()).toBe('5. Names');
    const body = await page.locator('.wizard-body').innerText();
    expect(body.split(message).length - 1).toBe(1);
    expect(await page.locator('.wizard-body [role="alert"]').count()).toBe(0);
    await ui.shot('deploy-name-1web-refused');

    await name.fill('web1');
    expect(await hint.innerText()).toBe('Letters, digits and hyphens. Left empty, Kiln picks one.');
    await page.getByRole('button', { name: 'Next' }).click();
    // SSH keys and user data: none.
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Next' }).click();
    await expect.poll(() => page.locator('.review').innerText()).toContain('web1');
    expect(ui.pageErrors).toEqual([]);
    expect(ui.cspViolations).toEqual([]);
  });
});
