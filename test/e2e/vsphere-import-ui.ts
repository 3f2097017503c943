/**
 * What the import-wizard e2e tests against vcsim set up alike: VMs made outside Kiln on a vcsim's
 * portgroups, and kiln serve in Chromium with a vSphere zone whose cluster is one vcsim (addCluster
 * with its pinned thumbprint).
 */
import type { Browser, Page } from 'playwright-core';
import type { VimClient } from '../../drivers/vsphere/soap/index.js';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { launchChromium } from '../helpers/browser.js';
import { createVmWithDevices, defaultPlacement } from '../helpers/vcsim-fixtures.js';
import type { Vcsim } from '../helpers/vcsim.js';
import { openUi, type UiSession } from './ui-helpers.js';

/** VMs with one 1 GiB disk and vmxnet3 NICs on the named portgroups. */
export async function makeVms(sim: Vcsim, vms: { name: string; nics: string[] }[]): Promise<void> {
  const admin: VimClient = await sim.connect();
  const where = await defaultPlacement(admin);
  for (const vm of vms) await createVmWithDevices(admin, where, { name: vm.name, disksGiB: [1], nics: vm.nics, nicType: 'VirtualVmxnet3' });
  admin.close();
}

export interface VsphereImportUi {
  kiln: KilnProcess;
  browser: Browser;
  ui: UiSession;
  page: Page;
  /** zone, pod, cluster */
  ids: Record<string, string>;
  /** Calls an API command through the page's session and returns the id of the object under KEY. */
  id(cmd: string, params: Record<string, string>, key: string): Promise<string>;
}

/** kiln serve, Chromium on its UI, and zone "vSphere" / pod "vSphere pod" / cluster CLUSTERNAME on SIM's DC0_C0. */
export async function vsphereImportUi(sim: Vcsim, clustername: string): Promise<VsphereImportUi> {
  const kiln = await startKiln();
  const browser = await launchChromium();
  const ui = await openUi(browser, kiln);
  const page = ui.page;
  page.setDefaultTimeout(10_000);
  const id = async (cmd: string, params: Record<string, string>, key: string) => {
    const r = (await ui.api(cmd, params))[key] as { id?: string } | undefined;
    if (!r?.id) throw new Error(`${cmd}: ${JSON.stringify(r)}`);
    return r.id;
  };
  const ids: Record<string, string> = {};
  ids['zone'] = await id('createZone', { name: 'vSphere' }, 'zone');
  ids['pod'] = await id('createPod', { name: 'vSphere pod', zoneid: ids['zone'] }, 'pod');
  ids['cluster'] = await id('addCluster', {
    zoneid: ids['zone'], podid: ids['pod'], clustername, hypervisor: 'VMware', url: `https://${sim.info.host}:${sim.info.port}/DC0/DC0_C0`,
    username: sim.info.username, password: sim.info.password, trustfingerprint: sim.info.thumbprint,
  }, 'cluster');
  return { kiln, browser, ui, page, ids, id };
}
