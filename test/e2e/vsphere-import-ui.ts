/**
 * What the import-wizard e2e tests against vcsim set up alike: two vcsims holding VMs made outside
 * Kiln on their portgroups, one a vSphere cluster of kiln serve's (addCluster with its pinned
 * thumbprint), the other a vCenter Kiln has not added (for the discovery dialog), and Chromium on
 * kiln serve's UI; and the wizard's walk from its start to the NIC step.
 */
import { afterAll, beforeAll, expect } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { VimClient } from '../../drivers/vsphere/soap/index.js';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { launchChromium } from '../helpers/browser.js';
import { createVmWithDevices, defaultPlacement } from '../helpers/vcsim-fixtures.js';
import { Vcsim } from '../helpers/vcsim.js';
import { goTo, openUi, type UiSession } from './ui-helpers.js';

interface VmOutsideKiln {
  name: string;
  /** The portgroups of its vmxnet3 NICs. */
  nics: string[];
}

/** VMs with one 1 GiB disk and vmxnet3 NICs on the named portgroups. */
async function makeVms(sim: Vcsim, vms: VmOutsideKiln[]): Promise<void> {
  const admin: VimClient = await sim.connect();
  const where = await defaultPlacement(admin);
  for (const vm of vms) await createVmWithDevices(admin, where, { name: vm.name, disksGiB: [1], nics: vm.nics, nicType: 'VirtualVmxnet3' });
  admin.close();
}

export interface VsphereImportSuite {
  /** The vCenter that is Kiln's cluster; its VMs are the ones to import. */
  added: Vcsim;
  /** A vCenter Kiln has not added. */
  fresh: Vcsim;
  kiln: KilnProcess;
  browser: Browser;
  ui: UiSession;
  page: Page;
  /** zone ("vSphere"), pod ("vSphere pod"), cluster */
  ids: Record<string, string>;
  /** Calls an API command through the page's session and returns the id of the object under KEY. */
  id(cmd: string, params: Record<string, string>, key: string): Promise<string>;
  /** The wizard from its start to step 3 (Networks): the cluster chosen, its unmanaged VMs listed (all of `added`'s), VMS ticked. */
  toNetworksStep(vms: string[]): Promise<void>;
}

export interface VsphereImportSetup {
  /** vcsim flags both start with, then each one's own. */
  flags: string[];
  added: { flags: string[]; vms: VmOutsideKiln[] };
  fresh: { flags: string[]; vms: VmOutsideKiln[] };
  /** The name of `added`'s cluster in Kiln. */
  clustername: string;
  /** What the test needs in the zone besides the cluster (networks, offerings). */
  seed?(s: VsphereImportSuite): Promise<void>;
}

/** In a describe: the two vcsims, kiln serve and Chromium as SETUP says, all stopped after. The fields are filled in by beforeAll. */
export function vsphereImportSuite(setup: VsphereImportSetup): VsphereImportSuite {
  const s = {} as VsphereImportSuite;
  beforeAll(async () => {
    s.added = Vcsim.start([...setup.flags, ...setup.added.flags]);
    s.fresh = Vcsim.start([...setup.flags, ...setup.fresh.flags]);
    await makeVms(s.added, setup.added.vms);
    await makeVms(s.fresh, setup.fresh.vms);
    s.kiln = await startKiln();
    s.browser = await launchChromium();
    s.ui = await openUi(s.browser, s.kiln);
    s.page = s.ui.page;
    s.page.setDefaultTimeout(10_000);
    s.id = async (cmd, params, key) => {
      const r = (await s.ui.api(cmd, params))[key] as { id?: string } | undefined;
      if (!r?.id) throw new Error(`${cmd}: ${JSON.stringify(r)}`);
      return r.id;
    };
    s.ids = {};
    s.ids['zone'] = await s.id('createZone', { name: 'vSphere' }, 'zone');
    s.ids['pod'] = await s.id('createPod', { name: 'vSphere pod', zoneid: s.ids['zone'] }, 'pod');
    s.ids['cluster'] = await s.id('addCluster', {
      zoneid: s.ids['zone'], podid: s.ids['pod'], clustername: setup.clustername, hypervisor: 'VMware', url: `https://${s.added.info.host}:${s.added.info.port}/DC0/DC0_C0`,
      username: s.added.info.username, password: s.added.info.password, trustfingerprint: s.added.info.thumbprint,
    }, 'cluster');
    await setup.seed?.(s);
  }, 90_000);
  afterAll(async () => {
    await s.browser?.close();
    await s.kiln?.stop();
    s.added?.stop();
    s.fresh?.stop();
  });
  s.toNetworksStep = async (vms) => {
    const { page } = s;
    await goTo(s.ui, '#/import', 'Import virtual machines');
    const clusterSelect = page.getByRole('combobox', { name: 'Cluster' });
    const cluster = `${setup.clustername} (pod vSphere pod)`;
    await expect.poll(() => clusterSelect.locator('option').allInnerTexts()).toContain(cluster);
    await clusterSelect.selectOption({ label: cluster });
    await page.getByRole('button', { name: 'Next' }).click();
    const table = page.getByRole('table', { name: 'Unmanaged VMs' });
    await expect.poll(() => table.locator('tbody tr').count(), { timeout: 20_000 }).toBe(setup.added.vms.length);
    for (const vm of vms) await page.getByRole('checkbox', { name: `Select ${vm}` }).check();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('heading', { name: '3. Networks' }).waitFor();
  };
  return s;
}
