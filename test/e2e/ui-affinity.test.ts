/**
 * Affinity groups and placement in Chromium against `kiln serve` on the simulator zone: a host
 * anti-affinity group created in the Affinity view; two VMs deployed into it through the wizard,
 * whose review step explains the placement (the first VM's host refused for the second) and
 * whose outcome names the host chosen and the hosts refused with their reasons; the members on
 * different hosts; a stopped VM's groups changed from its action menu (offered only in the
 * states listApis gives); a group deleted and its members detached.
 *
 * Breaches: the engine refuses every way we found to make a strict group's members break it
 * (deploy and start with hostid, migration; the attempt the brief suggests, a stopped member
 * joining and then started on another host, is checked here and refused with 533). So the
 * view's highlight is shown on the breach the engine does allow: members of a non-strict
 * anti-affinity group placed on one host ("preference not met"). The strict "violation"
 * verdict is the same check on the strict types, asserted on the view's own module.
 */
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { KilnProcess } from '../helpers/server.js';
import { goTo, one, serveUiSuite, vmRow, waitJob, wizardToNameStep, type UiSession } from './ui-helpers.js';
import { checkAffinity } from '../../renderer/src/affinity/violations.js';

let kiln: KilnProcess;
let ui: UiSession;
const hostIds: Record<string, string> = {};
let zoneid = '';
let templateid = '';
let small = '';

interface VmInfo {
  id: string;
  state: string;
  hostid?: string;
  hostname?: string;
  affinitygroup?: { id: string; name: string }[];
}

const vm = (name: string) => one<VmInfo>(ui, 'listVirtualMachines', 'virtualmachine', { name });
const group = (name: string) => one<{ id: string; virtualmachineIds: string[] }>(ui, 'listAffinityGroups', 'affinitygroup', { name });

async function apiJob(command: string, params: Record<string, string>): Promise<Record<string, unknown>> {
  const started = await ui.api(command, params);
  if (typeof started['jobid'] !== 'string') throw new Error(`${command}: ${JSON.stringify(started)}`);
  return waitJob(ui, started['jobid']);
}

/** The wizard from its first step to the review, with the given affinity groups and name. */
async function wizardToReview(page: Page, name: string, groups: string[]): Promise<void> {
  await wizardToNameStep(page, async () => {
    await page.getByRole('heading', { name: '1. Placement' }).waitFor();
    for (const g of groups) await page.getByRole('checkbox', { name: new RegExp(`^${g} `) }).check();
  });
  await page.getByLabel("Name (the guest's hostname)").fill(name);
  await page.getByRole('button', { name: 'Next' }).click();
  // SSH keys and user data: none.
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('heading', { name: '8. Review' }).waitFor();
}

/** The rows of a placement table as "host|verdict|reason". */
async function verdicts(page: Page, table: string): Promise<string[]> {
  const rows = page.getByRole('table', { name: table }).locator('tbody tr');
  const out: string[] = [];
  for (let i = 0; i < (await rows.count()); i++) {
    const cells = await rows.nth(i).locator('td').allInnerTexts();
    out.push(`${cells[0]}|${await rows.nth(i).getAttribute('data-verdict')}|${cells[2]}`);
  }
  return out;
}

describe('affinity groups and placement in Chromium', () => {
  serveUiSuite(async (suite) => {
    ({ kiln, ui } = suite);
    for (const h of (await ui.api('listHosts'))['host'] as { id: string; name: string }[]) hostIds[h.name] = h.id;
    zoneid = (await one<{ id: string }>(ui, 'listZones', 'zone')).id;
    templateid = (await one<{ id: string }>(ui, 'listTemplates', 'template', { templatefilter: 'executable', name: 'Debian 12' })).id;
    small = (await one<{ id: string }>(ui, 'listServiceOfferings', 'serviceoffering', { name: 'Small Instance' })).id;
  });

  it('creates a host anti-affinity group in the Affinity view (following its job)', async () => {
    const { page } = ui;
    await goTo(ui, '#/affinity', 'Affinity groups');
    await page.getByRole('button', { name: 'New group' }).click();
    const dialog = page.getByRole('dialog', { name: 'New affinity group' });
    await dialog.getByLabel('Name', { exact: true }).fill('web-anti');
    await dialog.getByLabel('Type', { exact: true }).selectOption('host anti-affinity');
    await dialog.getByLabel('Description (optional)').fill('web servers apart');
    expect(await dialog.innerText()).toContain('Members never share a host');
    await ui.shot('affinity-create-light');
    await dialog.getByRole('button', { name: 'Create group' }).click();
    await dialog.waitFor({ state: 'detached' });
    const card = page.getByRole('region', { name: 'web-anti' });
    await expect.poll(() => card.innerText()).toMatch(/host anti-affinity[\s\S]*web servers apart[\s\S]*No members/);
    expect((await group('web-anti')).virtualmachineIds).toEqual([]);
  });

  it('deploys two VMs into the group through the wizard; the review explains the placement and the outcome shows the host chosen and the hosts refused', async () => {
    const { page } = ui;
    await wizardToReview(page, 'anti-1', ['web-anti']);
    expect(await page.locator('.review').innerText()).toMatch(/Affinity groups\s+web-anti/);
    await page.getByRole('button', { name: 'Explain placement' }).click();
    const explained = page.getByRole('table', { name: 'Placement explained' });
    await explained.waitFor();
    // Nothing is in the group yet: every simulated host would do.
    expect((await verdicts(page, 'Placement explained')).filter((v) => v.includes('|refused|'))).toEqual([]);
    await page.getByRole('button', { name: 'Deploy' }).click();
    await page.getByText('anti-1 is deployed and running.').waitFor({ timeout: 30_000 });
    const first = await vm('anti-1');
    expect(first.state).toBe('Running');
    const outcome = page.getByRole('table', { name: 'Placement outcome' });
    await outcome.waitFor();
    expect(await page.locator('[data-chosen-host]').innerText()).toBe(first.hostname);
    expect(await verdicts(page, 'Placement outcome')).toContain(`${first.hostname}|chosen|passes every filter`);
    await ui.shot('deploy-placement-outcome-light');

    await wizardToReview(page, 'anti-2', ['web-anti']);
    await page.getByRole('button', { name: 'Explain placement' }).click();
    await explained.waitFor();
    const refusal = `${first.hostname}|refused|anti-affinity (web-anti): VM anti-1 already on this host`;
    expect(await verdicts(page, 'Placement explained')).toContain(refusal);
    const wouldChoose = await page.locator('.explain [data-chosen-host]').innerText();
    expect(wouldChoose).not.toBe(first.hostname);
    await ui.shot('deploy-explain-placement-light');
    await page.getByRole('button', { name: 'Deploy' }).click();
    await page.getByText('anti-2 is deployed and running.').waitFor({ timeout: 30_000 });
    const second = await vm('anti-2');
    expect(second.hostid).not.toBe(first.hostid);
    await outcome.waitFor();
    expect(await page.locator('[data-chosen-host]').innerText()).toBe(second.hostname);
    expect(await verdicts(page, 'Placement outcome')).toContain(refusal);
    await ui.shot('deploy-placement-outcome-refused-light');
  });

  it('shows the members and the host each runs on, on different hosts, with no breach', async () => {
    const { page } = ui;
    await goTo(ui, '#/affinity', 'Affinity groups');
    const card = page.getByRole('region', { name: 'web-anti' });
    const members = card.getByRole('table', { name: 'Members of web-anti' });
    const [a, b] = [await vm('anti-1'), await vm('anti-2')];
    await expect.poll(() => members.innerText()).toMatch(new RegExp(`anti-1\\s+Running\\s+${a.hostname}[\\s\\S]*anti-2\\s+Running\\s+${b.hostname}`));
    expect(a.hostname).not.toBe(b.hostname);
    expect(await card.getAttribute('data-status')).toBe('ok');
    expect(await page.getByRole('alert').count()).toBe(0);
  });

  it('is refused by the engine when a strict group would be broken (a member started on another host)', async () => {
    // The attempt from the brief: a host-affinity group whose second member joins while stopped
    // and is then started on another host. The planner refuses it (533), so no strict breach exists.
    const together = (await apiJob('createAffinityGroup', { name: 'db-together', type: 'host affinity' }))['jobresult'] as { affinitygroup: { id: string } };
    const gid = together.affinitygroup.id;
    const d1 = await apiJob('deployVirtualMachine', { zoneid, templateid, serviceofferingid: small, name: 'db-1', affinitygroupids: gid, hostid: hostIds['sim-host-1']! });
    expect(d1['jobstatus']).toBe(1);
    const d2 = await apiJob('deployVirtualMachine', { zoneid, templateid, serviceofferingid: small, name: 'db-2', hostid: hostIds['sim-host-2']! });
    expect(d2['jobstatus']).toBe(1);
    const db2 = await vm('db-2');
    expect((await apiJob('stopVirtualMachine', { id: db2.id }))['jobstatus']).toBe(1);
    expect((await apiJob('updateVMAffinityGroup', { id: db2.id, affinitygroupids: gid }))['jobstatus']).toBe(1);
    const start = await apiJob('startVirtualMachine', { id: db2.id, hostid: hostIds['sim-host-2']! });
    expect(start['jobstatus']).toBe(2);
    expect((start['jobresult'] as { errorcode: number; errortext: string })).toMatchObject({ errorcode: 533, errortext: expect.stringContaining('affinity (db-together): members run on another host (VM db-1)') });
    // The view agrees: db-1 on sim-host-1, db-2 not running, nothing broken.
    const { page } = ui;
    await goTo(ui, '#/affinity', 'Affinity groups');
    const card = page.getByRole('region', { name: 'db-together' });
    await expect.poll(() => card.innerText()).toMatch(/db-1\s+Running\s+sim-host-1[\s\S]*db-2\s+Stopped\s+not running/);
    expect(await card.getAttribute('data-status')).toBe('ok');
  });

  it('highlights members that share a host against a non-strict anti-affinity group ("preference not met")', async () => {
    const { page } = ui;
    await page.getByRole('button', { name: 'New group' }).click();
    const dialog = page.getByRole('dialog', { name: 'New affinity group' });
    await dialog.getByLabel('Name', { exact: true }).fill('cache-spread');
    await dialog.getByLabel('Type', { exact: true }).selectOption('non-strict host anti-affinity');
    await dialog.getByRole('button', { name: 'Create group' }).click();
    await dialog.waitFor({ state: 'detached' });
    const gid = (await group('cache-spread')).id;
    // A preference, not a rule: an admin may place both members on one host, and the engine lets them.
    for (const name of ['cache-1', 'cache-2']) {
      const job = await apiJob('deployVirtualMachine', { zoneid, templateid, serviceofferingid: small, name, affinitygroupids: gid, hostid: hostIds['sim-host-3']! });
      expect(job['jobstatus']).toBe(1);
    }
    await page.getByRole('button', { name: 'Refresh' }).click();
    const card = page.getByRole('region', { name: 'cache-spread' });
    await expect.poll(() => card.getAttribute('data-status'), { timeout: 15_000 }).toBe('preference');
    expect(await card.locator('[data-check="preference"]').innerText()).toBe('Preference not met: cache-1 and cache-2 run on the same host, sim-host-3.');
    expect(await card.locator('tr[data-involved]').count()).toBe(2);
    // The strict groups stay unflagged.
    expect(await page.getByRole('region', { name: 'web-anti' }).getAttribute('data-status')).toBe('ok');
    await card.scrollIntoViewIfNeeded();
    await ui.shot('affinity-preference-not-met-light');
  });

  it('calls a strict group broken with the same check (the verdict the view shows for strict types)', () => {
    const on = (id: string, hostid: string) => ({ id, name: id, hostid, hostname: hostid });
    expect(checkAffinity('host anti-affinity', [on('a', 'h1'), on('b', 'h1'), on('c', 'h2')])).toMatchObject({ status: 'violation', problems: ['a and b run on the same host, h1'] });
    expect(checkAffinity('host affinity', [on('a', 'h1'), on('b', 'h2')])).toMatchObject({ status: 'violation', problems: ['members run on 2 different hosts: a on h1; b on h2'] });
    expect(checkAffinity('host affinity', [on('a', 'h1'), on('b', 'h1'), { id: 'c', name: 'c' }]).status).toBe('ok');
    expect(checkAffinity('non-strict host affinity', [on('a', 'h1'), on('b', 'h2')]).status).toBe('preference');
    expect([...checkAffinity('host anti-affinity', [on('a', 'h1'), on('b', 'h1'), on('c', 'h2')]).involved]).toEqual(['a', 'b']);
  });

  it("changes a stopped VM's groups from its action menu, offered only in the states listApis gives", async () => {
    const { page } = ui;
    await goTo(ui, '#/vms', 'Virtual machines');
    const row = vmRow(page, 'anti-2');
    await row.getByRole('button', { name: 'Actions for anti-2' }).click();
    const running = await page.getByRole('menu', { name: 'Actions for anti-2' }).getByRole('menuitem').allInnerTexts();
    expect(running).not.toContain('Affinity groups…');
    await page.keyboard.press('Escape');
    const apis = (await ui.api('listApis', { name: 'updateVMAffinityGroup' }))['api'] as { vmstates: string[] }[];
    expect(apis[0]!.vmstates).toEqual(['Stopped', 'Created']);

    await row.getByRole('button', { name: 'Actions for anti-2' }).click();
    await page.getByRole('menu', { name: 'Actions for anti-2' }).getByRole('menuitem', { name: 'Stop', exact: true }).click();
    await expect.poll(() => row.locator('[data-state]').getAttribute('data-state'), { timeout: 20_000 }).toBe('Stopped');
    await row.getByRole('button', { name: 'Actions for anti-2' }).click();
    await page.getByRole('menu', { name: 'Actions for anti-2' }).getByRole('menuitem', { name: 'Affinity groups…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Affinity groups of anti-2' });
    await expect.poll(() => dialog.getByRole('checkbox', { name: /^web-anti/ }).isChecked()).toBe(true);
    await dialog.getByRole('checkbox', { name: /^web-anti/ }).uncheck();
    await dialog.getByRole('checkbox', { name: /^cache-spread/ }).check();
    await ui.shot('affinity-change-groups-light');
    await dialog.getByRole('button', { name: 'Save groups' }).click();
    await dialog.waitFor({ state: 'detached', timeout: 15_000 });
    expect((await vm('anti-2')).affinitygroup?.map((g) => g.name)).toEqual(['cache-spread']);

    // The Affinity view offers the same change on a stopped member's row, and lists it in its new group.
    await goTo(ui, '#/affinity', 'Affinity groups');
    const cache = page.getByRole('region', { name: 'cache-spread' });
    await expect.poll(() => cache.innerText()).toMatch(/anti-2\s+Stopped\s+not running/);
    expect(await cache.getByRole('button', { name: 'Change the groups of anti-2' }).count()).toBe(1);
    expect(await cache.getByRole('button', { name: 'Change the groups of cache-1' }).count()).toBe(0);
    expect(await page.getByRole('region', { name: 'web-anti' }).innerText()).not.toContain('anti-2');
  });

  it('deletes a group (following its job); its members are detached and keep running', async () => {
    const { page } = ui;
    await goTo(ui, '#/affinity', 'Affinity groups');
    await page.getByRole('button', { name: 'Delete affinity group web-anti' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete affinity group web-anti?' });
    expect(await confirm.innerText()).toContain('Its 1 member are detached and keep running');
    await confirm.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByRole('region', { name: 'web-anti' }).waitFor({ state: 'detached', timeout: 15_000 });
    expect(((await ui.api('listAffinityGroups', { name: 'web-anti' }))['affinitygroup'] as unknown[] | undefined) ?? []).toEqual([]);
    const anti1 = await vm('anti-1');
    expect(anti1.state).toBe('Running');
    expect(anti1.affinitygroup ?? []).toEqual([]);
    // The VM's own page says so too.
    await page.goto(new URL(`/#/vms/${anti1.id}/overview`, kiln.apiUrl).toString());
    const field = page.locator('.field').filter({ hasText: 'Affinity groups' });
    await expect.poll(() => field.locator('dd').innerText()).toBe('—');
  });

  it('looks right in the dark theme', async () => {
    const { page } = ui;
    await goTo(ui, '#/affinity', 'Affinity groups');
    await page.getByRole('button', { name: 'Dark theme' }).click();
    await page.getByRole('region', { name: 'cache-spread' }).scrollIntoViewIfNeeded();
    await ui.shot('affinity-dark');
    await page.getByRole('button', { name: 'Dark theme' }).click();
    await ui.shot('affinity-light');
  });

  it('logged no CSP violation and no page error', () => {
    expect(ui.cspViolations).toEqual([]);
    expect(ui.pageErrors).toEqual([]);
  });
});
