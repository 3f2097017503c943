/**
 * SSH key pairs, the wizard's key-pair and user-data steps, tags and the SSH key reset in Chromium
 * against `kiln serve` on the simulator zone. The key-pair page creates a pair and shows its
 * private key once with a download (the downloaded file is the key, and ssh-keygen finds the
 * fingerprint the page shows), registers an Ed25519 key (a PEM is refused with the engine's
 * words before sending), deletes one; the wizard deploys with a key pair and typed user data
 * (counter, 32 KB limit refused); the tag editor adds and removes tags on a VM and a snapshot;
 * a stopped VM's keys are reset from its action menu. Each step is checked in the API too.
 * Screenshots: test-results/screenshots/keys-*.png, deploy-keys-*.png, tags-*.png.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deployDemoVm, goTo, one, serveUiSuite, vmRow, waitJob, wizardToNameStep, type UiSession } from './ui-helpers.js';

let ui: UiSession;
let dir: string;

const notices = () => ui.page.locator('.notices').innerText();
const keyRow = (name: string) => ui.page.locator(`tr[data-keypair="${name}"]`);
const keyPairs = async () => ((await ui.api('listSSHKeyPairs', {}))['sshkeypair'] as { name: string; fingerprint: string }[] | undefined) ?? [];

describe('SSH key pairs, user data and tags in Chromium', () => {
  serveUiSuite(
    (suite) => {
      ui = suite.ui;
      dir = mkdtempSync(join(tmpdir(), 'kiln-ui-keys-'));
    },
    {
      cleanup: async () => {
        if (dir) rmSync(dir, { recursive: true, force: true });
      },
    },
  );

  it('creates a key pair: the private key is shown once and downloads as a key whose fingerprint the page shows', async () => {
    const { page } = ui;
    await goTo(ui, '#/keys', 'SSH key pairs');
    await page.getByText('No key pairs yet.').waitFor();
    await page.getByRole('button', { name: 'Create key pair' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create an SSH key pair' });
    await dialog.getByLabel('Name').fill('laptop');
    await dialog.getByRole('button', { name: 'Create' }).click();
    const once = page.getByRole('region', { name: 'Private key of laptop' });
    await once.waitFor();
    expect(await once.innerText()).toContain('This is the only time the private key is shown');
    const shownKey = await once.getByRole('textbox', { name: 'Private key of laptop' }).inputValue();
    expect(shownKey).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
    await ui.shot('keys-private-key-once');

    const [download] = await Promise.all([page.waitForEvent('download'), once.getByRole('link', { name: 'Download laptop.pem' }).click()]);
    expect(download.suggestedFilename()).toBe('laptop.pem');
    const file = join(dir, 'laptop.pem');
    await download.saveAs(file);
    expect(readFileSync(file, 'utf8')).toBe(shownKey);
    chmodSync(file, 0o600);
    writeFileSync(`${file}.pub`, execFileSync('ssh-keygen', ['-y', '-f', file]));
    const md5 = execFileSync('ssh-keygen', ['-l', '-E', 'md5', '-f', `${file}.pub`], { encoding: 'utf8' }).split(' ')[1]!.replace('MD5:', '');
    expect(await keyRow('laptop').innerText()).toContain(md5);
    expect((await keyPairs()).map((k) => [k.name, k.fingerprint])).toEqual([['laptop', md5]]);

    // Dismissed, the private key is gone from the page for good.
    await once.getByRole('button', { name: 'I have saved it' }).click();
    expect(await page.getByText('BEGIN RSA PRIVATE KEY').count()).toBe(0);
  });

  it('registers an Ed25519 public key; a PEM is refused with the engine’s rule before sending', async () => {
    const { page } = ui;
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ci@kiln', '-f', join(dir, 'ed')]);
    const line = readFileSync(join(dir, 'ed.pub'), 'utf8').trim();
    const md5 = execFileSync('ssh-keygen', ['-l', '-E', 'md5', '-f', join(dir, 'ed.pub')], { encoding: 'utf8' }).split(' ')[1]!.replace('MD5:', '');
    await page.getByRole('button', { name: 'Register public key' }).click();
    const dialog = page.getByRole('dialog', { name: 'Register a public key' });
    await dialog.getByLabel('Name').fill('ci');
    await dialog.getByLabel('Public key').fill('-----BEGIN OPENSSH PRIVATE KEY-----');
    const alert = dialog.getByRole('alert');
    await expect.poll(() => alert.innerText()).toContain('Public key is invalid: not an OpenSSH public key line');
    // The same words the engine answers with (listApis publishes its rule).
    const engine = await ui.api('registerSSHKeyPair', { name: 'ci', publickey: '-----BEGIN OPENSSH PRIVATE KEY-----' });
    expect(engine['errorcode']).toBe(431);
    expect(await alert.innerText()).toBe(String(engine['errortext']));
    expect(await dialog.getByRole('button', { name: 'Register' }).isDisabled()).toBe(true);
    await ui.shot('keys-register-refused');
    await dialog.getByLabel('Public key').fill(line);
    await dialog.getByRole('button', { name: 'Register' }).click();
    await expect.poll(notices).toContain(`Key pair ci registered (${md5})`);
    await keyRow('ci').waitFor();
    expect(await keyRow('ci').innerText()).toContain(md5);
    await ui.shot('keys-page');
  });

  it('deletes a key pair after asking', async () => {
    const { page } = ui;
    await ui.api('createSSHKeyPair', { name: 'spare' });
    await goTo(ui, '#/vms', 'Virtual machines');
    await goTo(ui, '#/keys', 'SSH key pairs');
    await keyRow('spare').getByRole('button', { name: 'Delete key pair spare' }).click();
    await page.getByRole('dialog', { name: 'Delete key pair spare?' }).getByRole('button', { name: 'Delete' }).click();
    await expect.poll(notices).toContain('Key pair spare deleted');
    await expect.poll(async () => (await keyPairs()).map((k) => k.name)).toEqual(['laptop', 'ci']);
    expect(await keyRow('spare').count()).toBe(0);
  });

  it('deploys from the wizard with a key pair and typed user data; the counter refuses more than 32 KB', async () => {
    const { page } = ui;
    await wizardToNameStep(page);
    await page.getByLabel("Name (the guest's hostname)").fill('keyed-web');
    await page.getByRole('button', { name: 'Next' }).click();

    await page.getByRole('heading', { name: '6. SSH keys' }).waitFor();
    await page.getByRole('checkbox', { name: /^ci / }).check();
    await ui.shot('deploy-keys-step');
    await page.getByRole('button', { name: 'Next' }).click();

    await page.getByRole('heading', { name: '7. User data' }).waitFor();
    const data = page.getByLabel('User data (cloud-config, a script or a MIME multipart)');
    const counter = page.locator('#user-data-size');
    await data.fill('x'.repeat(33_000));
    await expect.poll(() => counter.innerText()).toContain('33,000 of 32,768 bytes');
    await page.getByRole('button', { name: 'Next' }).click();
    await expect.poll(() => page.getByRole('alert').innerText()).toContain('User data is 33,000 bytes; the limit is 32,768 bytes (32 KB).');
    await ui.shot('deploy-userdata-too-big');
    const cloudConfig = '#cloud-config\nruncmd:\n  - touch /root/kiln-marker\n';
    await data.fill(cloudConfig);
    await expect.poll(() => counter.innerText()).toBe(`${cloudConfig.length} of 32,768 bytes`);
    await ui.shot('deploy-userdata-step');
    await page.getByRole('button', { name: 'Next' }).click();

    const review = page.locator('.review');
    await expect.poll(() => review.innerText()).toContain('SSH key pairs\nci');
    expect(await review.innerText()).toContain(`User data\ntyped, ${cloudConfig.length} bytes`);
    await page.getByRole('button', { name: 'Deploy' }).click();
    await page.getByText('keyed-web is deployed and running.').waitFor({ timeout: 30_000 });

    const vm = await one<{ id: string; keypairs: string }>(ui, 'listVirtualMachines', 'virtualmachine', { name: 'keyed-web' });
    expect(vm.keypairs).toBe('ci');
    const userData = (await ui.api('getVirtualMachineUserData', { virtualmachineid: vm.id }))['virtualmachineuserdata'] as { userdata: string };
    expect(Buffer.from(userData.userdata, 'base64').toString()).toBe(cloudConfig);
  });

  it('edits a VM’s tags in its overview and a snapshot’s in its tree', async () => {
    const { page } = ui;
    const vm = await one<{ id: string }>(ui, 'listVirtualMachines', 'virtualmachine', { name: 'keyed-web' });
    await goTo(ui, `#/vms/${vm.id}/overview`, 'keyed-web');
    const editor = page.getByRole('region', { name: 'Tags of keyed-web' });
    await editor.getByText('No tags.').waitFor();
    expect(await page.locator('.fields').innerText()).toContain('SSH key pairs\nci');
    const form = editor.getByRole('form', { name: 'Add a tag to keyed-web' });
    await form.getByLabel('Tag key').fill('env');
    await form.getByLabel('Tag value').fill('prod');
    await form.getByRole('button', { name: 'Add tag' }).click();
    await editor.locator('[data-tag="env"]').waitFor();
    expect(await editor.locator('[data-tag="env"]').innerText()).toContain('env = prod');
    const tags = async () => (((await ui.api('listTags', { resourceid: vm.id }))['tag'] as { key: string; value: string }[] | undefined) ?? []).map((t) => `${t.key}=${t.value}`);
    expect(await tags()).toEqual(['env=prod']);
    // The key is taken: the editor says so before sending.
    await form.getByLabel('Tag key').fill('env');
    await form.getByLabel('Tag value').fill('dev');
    await expect.poll(() => form.innerText()).toContain('tags: env is already set; remove it first to change its value');
    expect(await form.getByRole('button', { name: 'Add tag' }).isDisabled()).toBe(true);
    await ui.shot('tags-vm');
    // The list filter finds it by its tag.
    expect(((await ui.api('listVirtualMachines', { 'tags[0].key': 'env', 'tags[0].value': 'prod' }))['virtualmachine'] as { id: string }[]).map((v) => v.id)).toEqual([vm.id]);
    await editor.getByRole('button', { name: 'Remove tag env from keyed-web' }).click();
    await editor.getByText('No tags.').waitFor();
    expect(await tags()).toEqual([]);

    const snap = await waitJob(ui, String((await ui.api('createVMSnapshot', { virtualmachineid: vm.id, name: 'base' }))['jobid']));
    const snapId = (snap['jobresult'] as { vmsnapshot: { id: string } }).vmsnapshot.id;
    await goTo(ui, `#/vms/${vm.id}/snapshots`, 'keyed-web');
    const item = page.locator('li[data-snapshot="base"]');
    await item.getByRole('button', { name: 'Tags of base' }).click();
    const snapEditor = page.getByRole('region', { name: 'Tags of snapshot base' });
    const snapForm = snapEditor.getByRole('form', { name: 'Add a tag to snapshot base' });
    await snapForm.getByLabel('Tag key').fill('purpose');
    await snapForm.getByLabel('Tag value').fill('before upgrade');
    await snapForm.getByRole('button', { name: 'Add tag' }).click();
    await expect.poll(() => snapEditor.innerText()).toContain('purpose = before upgrade');
    const snapTags = (await ui.api('listVMSnapshot', { vmsnapshotid: snapId }))['vmSnapshot'] as { tags: { key: string; value: string }[] }[];
    expect(snapTags[0]!.tags.map((t) => `${t.key}=${t.value}`)).toEqual(['purpose=before upgrade']);
    await ui.shot('tags-snapshot');
  });

  it('resets a stopped VM’s SSH keys from its action menu (not offered while Running)', async () => {
    const { page } = ui;
    const id = await deployDemoVm(ui, 'reset-me');
    await goTo(ui, '#/vms', 'Virtual machines');
    const row = vmRow(page, 'reset-me');
    // Deployed behind the page's back (by API): the list's Refresh picks it up.
    await page.getByRole('button', { name: 'Refresh' }).click();
    await row.waitFor({ timeout: 15_000 });
    await row.getByRole('button', { name: 'Actions for reset-me' }).click();
    const menu = page.getByRole('menu', { name: 'Actions for reset-me' });
    expect(await menu.getByRole('menuitem').allInnerTexts()).not.toContain('Reset SSH keys…');
    await page.keyboard.press('Escape');
    await waitJob(ui, String((await ui.api('stopVirtualMachine', { id }))['jobid']));
    await expect.poll(() => row.locator('[data-state]').getAttribute('data-state'), { timeout: 15_000 }).toBe('Stopped');
    await row.getByRole('button', { name: 'Actions for reset-me' }).click();
    await menu.getByRole('menuitem', { name: 'Reset SSH keys…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Reset the SSH keys of reset-me' });
    expect(await dialog.innerText()).toContain('Now: no key pair.');
    await dialog.getByRole('checkbox', { name: /^laptop / }).check();
    await dialog.getByRole('checkbox', { name: /^ci / }).check();
    await ui.shot('keys-reset-dialog');
    await dialog.getByRole('button', { name: 'Reset SSH keys' }).click();
    await expect.poll(notices).toContain('SSH keys of reset-me reset to laptop, ci; the guest gets them at its next boot');
    expect((await one<{ keypairs: string }>(ui, 'listVirtualMachines', 'virtualmachine', { id })).keypairs).toBe('laptop,ci');
    expect(ui.pageErrors).toEqual([]);
    expect(ui.cspViolations).toEqual([]);
  });
});
