/**
 * Zones, pods and clusters changed and deleted, in Chromium against `kiln serve` on the simulator
 * zone. Another client (Debian's `cloudstack`, signed) renames a pod, disables a cluster and deletes
 * a zone: each shows in the Hosts page's "Zones, pods and clusters" from the live socket ('updated'
 * and 'removed' records), with no list request from the page (counted from playwright's request
 * events). Then the page's own actions, offered from listApis: a delete of an empty pod works, a
 * delete of a pod with a cluster shows the engine's 431 naming the cluster, a rename is checked
 * against the published length of clustername before the call, and a zone is disabled and enabled
 * again; none of them makes the page read a list again.
 *
 * A host and a storage pool deleted from their pages: a Delete of an Enabled host shows the
 * engine's 431 (forced, or disable it first) in its dialog, a forced one with a VM on the host the
 * 431 naming the VM; once the VM is expunged and the host Disabled, Delete removes it from the table
 * (live channel) and deleteCluster of its cluster works. On the Primary storage page a pool its
 * hosts still report is refused with the engine's words (the delete of a Down pool, which a served
 * simulator cannot produce from outside, is test/unit/infra-delete-host's).
 *
 * A cluster unmanaged and managed again from its row (updateCluster managedstate, asked first in
 * words that say its hosts are disconnected and HA stops): its hosts read Disconnected and the
 * cluster Unmanaged, then Up again, from the live channels with no list request; a zone's Edit…
 * pre-filled from listZones, a bad DNS refused by the published rule before the call, the saved DNS
 * and domain read back by the CLI's listZones, and a guest CIDR with host bits set shown as the
 * engine's 431 naming guestcidraddress, nothing written.
 */
import { describe, expect, it } from 'vitest';
import type { KilnProcess } from '../helpers/server.js';
import { csClient } from '../helpers/cs-client.js';
import { CommandCounter, demoCatalog, goTo, infraRows, one, serveUiSuite, waitJob, type UiSession } from './ui-helpers.js';

let kiln: KilnProcess;
let ui: UiSession;
const cs = csClient(() => kiln);
let counter: CommandCounter;

const ok = async (args: string[]) => {
  const r = await cs(args);
  expect(r.code, `${args.join(' ')}: ${r.stderr} ${JSON.stringify(r.json)}`).toBe(0);
  return r.json;
};

describe('zones, pods and clusters: updates and deletes', () => {
  serveUiSuite((suite) => {
    kiln = suite.kiln;
    ui = suite.ui;
    counter = new CommandCounter(ui.page);
  }, { timeoutMs: 60_000 });

  it('follows an update and a delete by another client, and deletes, refuses, renames and disables from the page, with no list request', async () => {
    const { page } = ui;
    const rows = () => infraRows(page);
    const zone = (await ok(['createZone', 'name=Edit Zone']))['zone'] as { id: string };
    const empty = (await ok(['createPod', `zoneid=${zone.id}`, 'name=Empty Pod']))['pod'] as { id: string };
    const busy = (await ok(['createPod', `zoneid=${zone.id}`, 'name=Busy Pod']))['pod'] as { id: string };
    const cluster = (await ok(['addCluster', `zoneid=${zone.id}`, `podid=${busy.id}`, 'clustername=Busy Cluster', 'hypervisor=KVM']))['cluster'] as { id: string };
    const doomed = (await ok(['createZone', 'name=Doomed Zone']))['zone'] as { id: string };

    await goTo(ui, '#/hosts', 'Hosts');
    await page.reload();
    await page.getByRole('heading', { name: 'Hosts', level: 1 }).waitFor();
    await expect.poll(rows).toContain('Edit Zone | Busy Pod | Busy Cluster | KVM | 0');
    await expect.poll(rows).toContain('Doomed Zone | no pod yet |  |  |');
    await page.waitForTimeout(500);
    counter.clear();

    // Another client: a rename, a disable and a delete, each on its live channel.
    await ok(['updatePod', `id=${empty.id}`, 'name=Renamed Pod']);
    await expect.poll(rows, { timeout: 10_000 }).toContain('Edit Zone | Renamed Pod | no cluster yet |  |');
    expect(await rows()).not.toContain('Edit Zone | Empty Pod | no cluster yet |  |');
    await ok(['updateCluster', `id=${cluster.id}`, 'allocationstate=Disabled']);
    const clusterActions = page.getByRole('group', { name: 'Actions for cluster Busy Cluster' });
    await expect.poll(() => clusterActions.getByRole('button', { name: 'Enable cluster Busy Cluster' }).count(), { timeout: 10_000 }).toBe(1);
    expect(await page.getByRole('table', { name: 'Zones, pods and clusters' }).locator('[data-state="Disabled"]').count()).toBe(1);
    await ok(['deleteZone', `id=${doomed.id}`]);
    await expect.poll(async () => (await rows()).some((r) => r.startsWith('Doomed Zone')), { timeout: 10_000 }).toBe(false);
    await ui.shot('infra-edits-by-cli');
    await page.waitForTimeout(500);
    expect(counter.lists(), 'list requests while another client changed zones, pods and clusters').toEqual([]);

    // The page: a delete of the empty pod.
    await page.getByRole('button', { name: 'Delete pod Renamed Pod' }).click();
    await expect.poll(() => page.getByRole('dialog').textContent()).toContain('Delete pod Renamed Pod?');
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await expect.poll(async () => (await rows()).some((r) => r.includes('Renamed Pod')), { timeout: 10_000 }).toBe(false);

    // A delete of the pod that still has a cluster: the engine's 431, and the pod stays.
    await page.getByRole('button', { name: 'Delete pod Busy Pod' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    const refusal = page.getByRole('region', { name: 'Zones, pods and clusters' }).getByRole('alert');
    await expect.poll(() => refusal.textContent(), { timeout: 10_000 }).toBe('Delete pod Busy Pod: 431: id: pod Busy Pod cannot be deleted: it still has 1 cluster (Busy Cluster)');
    expect(await rows()).toContain('Edit Zone | Busy Pod | Busy Cluster | KVM | 0');
    await ui.shot('infra-edits-delete-refused');

    // A rename, checked against clustername's published length before the call.
    await clusterActions.getByRole('button', { name: 'Rename cluster Busy Cluster' }).click();
    const dialog = page.getByRole('dialog', { name: 'Rename cluster Busy Cluster' });
    const field = dialog.getByRole('textbox', { name: 'New cluster name' });
    await field.fill('x'.repeat(256));
    await expect.poll(() => dialog.textContent()).toContain('Parameter clustername is 256 characters long; the limit is 255');
    expect(await dialog.getByRole('button', { name: 'Rename' }).isDisabled()).toBe(true);
    await field.fill('Quiet Cluster');
    await dialog.getByRole('button', { name: 'Rename' }).click();
    await expect.poll(rows, { timeout: 10_000 }).toContain('Edit Zone | Busy Pod | Quiet Cluster | KVM | 0');

    // Disable the zone (asked first), then enable it again.
    await page.getByRole('button', { name: 'Disable zone Edit Zone' }).click();
    await expect.poll(() => page.getByRole('dialog').textContent()).toContain('Kiln places no new VM in it');
    await page.getByRole('dialog').getByRole('button', { name: 'Disable' }).click();
    const zoneActions = page.getByRole('group', { name: 'Actions for zone Edit Zone' });
    await expect.poll(() => zoneActions.getByRole('button', { name: 'Enable zone Edit Zone' }).count(), { timeout: 10_000 }).toBe(1);
    const zoneNow = (((await ok(['listZones', `id=${zone.id}`]))['zone']) as { allocationstate: string }[])[0]!;
    expect(zoneNow.allocationstate).toBe('Disabled');
    await ui.shot('infra-edits-zone-disabled');
    await zoneActions.getByRole('button', { name: 'Enable zone Edit Zone' }).click();
    await expect.poll(() => zoneActions.getByRole('button', { name: 'Disable zone Edit Zone' }).count(), { timeout: 10_000 }).toBe(1);

    await page.waitForTimeout(500);
    console.log(`hosts page during the edits: ${JSON.stringify(Object.fromEntries(counter.requests))}`);
    expect(counter.lists(), 'list requests after the page\'s own actions').toEqual([]);
    expect(ui.pageErrors).toEqual([]);
  });

  it('deletes a host from the Hosts page and refuses a reported pool\'s delete on the Primary storage page, in the engine\'s words', async () => {
    const { page } = ui;
    const rows = () => infraRows(page);
    const demo = await demoCatalog(ui);
    const pod = (await ok(['createPod', `zoneid=${demo.zoneid}`, 'name=Delete Pod']))['pod'] as { id: string };
    const cluster = (await ok(['addCluster', `zoneid=${demo.zoneid}`, `podid=${pod.id}`, 'clustername=Delete Cluster', 'hypervisor=Simulator']))['cluster'] as { id: string };
    await ok(['addHost', `zoneid=${demo.zoneid}`, `podid=${pod.id}`, `clusterid=${cluster.id}`, 'hypervisor=Simulator', 'url=simulator://del-host?memory=8192', 'username=root', 'password=x']);
    const host = await one<{ id: string }>(ui, 'listHosts', 'host', { name: 'del-host' });
    const deployed = await waitJob(ui, String((await ui.api('deployVirtualMachine', { ...demo, name: 'on-del-host', hostid: host.id }))['jobid']));
    expect(deployed['jobstatus']).toBe(1);
    const vm = (deployed['jobresult'] as { virtualmachine: { id: string } }).virtualmachine;

    await goTo(ui, '#/hosts', 'Hosts');
    await page.reload();
    const row = page.locator('tr[data-host="del-host"]');
    await row.waitFor();
    const hostRefusal = page.getByRole('alert').filter({ hasText: 'Delete host del-host:' });
    // Enabled: refused unless forced.
    await page.getByRole('button', { name: 'Delete host del-host' }).click();
    await expect.poll(() => page.getByRole('dialog').textContent()).toContain('Kiln deletes a Disabled host');
    await page.getByRole('dialog').getByRole('button', { name: 'Delete', exact: true }).click();
    await expect.poll(() => hostRefusal.textContent(), { timeout: 10_000 }).toBe("Delete host del-host: 431: forced: host del-host is Enabled and Up; Kiln deletes a Disabled host (updateHost allocationstate=Disable, its stand-in for CloudStack's Maintenance), or give forced=true");
    // Forced (the dialog stays open with the refusal), with a VM on it: refused naming the VM.
    await page.getByRole('dialog').getByRole('button', { name: 'Delete (forced)' }).click();
    await expect.poll(() => hostRefusal.textContent(), { timeout: 10_000 }).toBe('Delete host del-host: 431: id: host del-host cannot be deleted: it still has 1 VM (on-del-host); stop or migrate it first');
    await ui.shot('infra-edits-host-delete-refused');
    expect(await row.count()).toBe(1);
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => page.getByRole('dialog').count()).toBe(0);

    // Without the VM and Disabled, Delete removes it; the cluster is then deleted.
    expect((await waitJob(ui, String((await ui.api('destroyVirtualMachine', { id: vm.id, expunge: 'true' }))['jobid'])))['jobstatus']).toBe(1);
    await ok(['updateHost', `id=${host.id}`, 'allocationstate=Disable']);
    await expect.poll(() => row.textContent(), { timeout: 10_000 }).toContain('Disabled');
    await page.getByRole('button', { name: 'Delete host del-host' }).click();
    await expect.poll(() => page.getByRole('dialog').textContent()).toContain('its local storage pools\' records go with it');
    expect(await page.getByRole('dialog').getByRole('button', { name: 'Delete (forced)' }).count()).toBe(0);
    await page.getByRole('dialog').getByRole('button', { name: 'Delete', exact: true }).click();
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(0);
    await expect.poll(rows, { timeout: 10_000 }).toContain('Demo | Delete Pod | Delete Cluster | Simulator | 0');
    await ui.shot('infra-edits-host-deleted');
    await ok(['deleteCluster', `id=${cluster.id}`]);

    // Primary storage: a pool its hosts still report is refused.
    await goTo(ui, '#/storage', 'Primary storage');
    const poolRow = page.locator('tr[data-pool="sim-primary"]').first();
    await poolRow.waitFor();
    await page.getByRole('button', { name: 'Delete storage pool sim-primary' }).first().click();
    await expect.poll(() => page.getByRole('dialog').textContent()).toContain('it deletes only a pool none of them reports any more (Down)');
    await page.getByRole('dialog').getByRole('button', { name: 'Delete', exact: true }).click();
    const poolRefusal = page.getByRole('alert').filter({ hasText: 'Delete storage pool sim-primary:' });
    await expect.poll(() => poolRefusal.textContent(), { timeout: 10_000 }).toMatch(/^Delete storage pool sim-primary: 431: id: storage pool sim-primary is Up: the hosts of cluster .* still report it, and Kiln would record it again at their next refresh/);
    await ui.shot('infra-edits-pool-delete-refused');
  });

  it('unmanages and manages a cluster (its hosts Disconnected, then Up, from the live channel) and edits a zone\'s DNS, guest CIDR refused with the engine\'s 431', async () => {
    const { page } = ui;
    const rows = () => infraRows(page);
    const demo = await demoCatalog(ui);
    const pod = (await ok(['createPod', `zoneid=${demo.zoneid}`, 'name=Managed Pod']))['pod'] as { id: string };
    const cluster = (await ok(['addCluster', `zoneid=${demo.zoneid}`, `podid=${pod.id}`, 'clustername=Rack Cluster', 'hypervisor=Simulator']))['cluster'] as { id: string };
    for (const name of ['rack-1', 'rack-2']) {
      await ok(['addHost', `zoneid=${demo.zoneid}`, `podid=${pod.id}`, `clusterid=${cluster.id}`, 'hypervisor=Simulator', `url=simulator://${name}?memory=8192`, 'username=root', 'password=x']);
    }
    const zone = (await ok(['createZone', 'name=DNS Zone', 'dns1=9.9.9.9']))['zone'] as { id: string };
    const hostStates = () => page.locator('tr[data-host^="rack-"] [data-state]').evaluateAll((spans) => spans.map((s) => s.getAttribute('data-state')));

    await goTo(ui, '#/hosts', 'Hosts');
    await page.reload();
    await page.getByRole('heading', { name: 'Hosts', level: 1 }).waitFor();
    await expect.poll(rows).toContain('Demo | Managed Pod | Rack Cluster | Simulator | 2');
    await expect.poll(hostStates, { timeout: 10_000 }).toEqual(['Up', 'Up']);
    await page.waitForTimeout(500);
    counter.clear();

    // Unmanage…: asked first, in words that say what it does.
    const clusterActions = page.getByRole('group', { name: 'Actions for cluster Rack Cluster' });
    await clusterActions.getByRole('button', { name: 'Unmanage cluster Rack Cluster' }).click();
    const confirm = page.getByRole('dialog');
    await expect.poll(() => confirm.textContent()).toContain('Kiln disconnects its hosts (they show Disconnected) and stops managing them until the cluster is managed again: no HA');
    await ui.shot('infra-edits-unmanage-confirm');
    await confirm.getByRole('button', { name: 'Unmanage', exact: true }).click();
    await expect.poll(hostStates, { timeout: 10_000 }).toEqual(['Disconnected', 'Disconnected']);
    const table = page.getByRole('table', { name: 'Zones, pods and clusters' });
    await expect.poll(() => table.locator('[data-state="Unmanaged"]').count(), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => clusterActions.getByRole('button', { name: 'Manage cluster Rack Cluster' }).count()).toBe(1);
    expect((((await ok(['listClusters', `id=${cluster.id}`]))['cluster']) as { managedstate: string }[])[0]!.managedstate).toBe('Unmanaged');
    expect(((await ok(['listHosts', `clusterid=${cluster.id}`]))['host'] as { state: string }[]).map((h) => h.state)).toEqual(['Disconnected', 'Disconnected']);
    await page.locator('tr[data-host="rack-1"]').scrollIntoViewIfNeeded();
    await ui.shot('infra-edits-cluster-unmanaged-hosts');
    await table.scrollIntoViewIfNeeded();
    await ui.shot('infra-edits-cluster-unmanaged');

    // Manage: the hosts come back Up.
    await clusterActions.getByRole('button', { name: 'Manage cluster Rack Cluster' }).click();
    await expect.poll(hostStates, { timeout: 15_000 }).toEqual(['Up', 'Up']);
    await expect.poll(() => table.locator('[data-state="Unmanaged"]').count(), { timeout: 10_000 }).toBe(0);
    expect(await clusterActions.getByRole('button', { name: 'Unmanage cluster Rack Cluster' }).count()).toBe(1);
    expect((((await ok(['listClusters', `id=${cluster.id}`]))['cluster']) as { managedstate: string }[])[0]!.managedstate).toBe('Managed');
    await page.locator('tr[data-host="rack-1"]').scrollIntoViewIfNeeded();
    await ui.shot('infra-edits-cluster-managed-hosts');
    await page.waitForTimeout(500);
    expect(counter.lists(), 'list requests while unmanaging and managing').toEqual([]);

    // Edit… a zone: pre-filled from listZones, a bad DNS refused before the call, the change read back by the CLI.
    await table.scrollIntoViewIfNeeded();
    await page.getByRole('button', { name: 'Edit zone DNS Zone' }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit zone DNS Zone' });
    const field = (label: string) => dialog.getByRole('textbox', { name: label, exact: true });
    expect(await field('DNS 1').inputValue()).toBe('9.9.9.9');
    expect(await field('Guest CIDR').inputValue()).toBe('');
    await field('DNS 2').fill('1.1.1.300');
    await expect.poll(() => dialog.textContent()).toContain('dns2: "1.1.1.300" is not an IPv4 address');
    expect(await dialog.getByRole('button', { name: 'Save' }).isDisabled()).toBe(true);
    await field('DNS 2').fill('1.1.1.1');
    await field('Internal DNS 1').fill('10.0.0.53');
    await field('IPv6 DNS 1').fill('2001:4860:4860::8888');
    await field('Network domain').fill('lab.example');
    await ui.shot('infra-edits-zone-edit');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => dialog.count(), { timeout: 10_000 }).toBe(0);
    const listed = (((await ok(['listZones', `id=${zone.id}`]))['zone']) as Record<string, string>[])[0]!;
    expect(listed).toMatchObject({ dns1: '9.9.9.9', dns2: '1.1.1.1', internaldns1: '10.0.0.53', ip6dns1: '2001:4860:4860::8888', domain: 'lab.example' });

    // Opened again: the new values (the live channel's zone); a guest CIDR with host bits set is the engine's 431, nothing written.
    await page.getByRole('button', { name: 'Edit zone DNS Zone' }).click();
    await expect.poll(() => field('DNS 2').inputValue()).toBe('1.1.1.1');
    expect(await field('Network domain').inputValue()).toBe('lab.example');
    await field('Guest CIDR').fill('10.1.0.5/16');
    await field('DNS 1').fill('8.8.4.4');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => dialog.getByRole('alert').textContent(), { timeout: 10_000 }).toBe('431: guestcidraddress: "10.1.0.5/16" has host bits set (the network of /16 is 10.1.0.0/16)');
    await ui.shot('infra-edits-zone-cidr-refused');
    const after = (((await ok(['listZones', `id=${zone.id}`]))['zone']) as Record<string, string>[])[0]!;
    expect(after['dns1']).toBe('9.9.9.9');
    expect(after['guestcidraddress']).toBeUndefined();
    await field('Guest CIDR').fill('10.1.0.0/16');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => dialog.count(), { timeout: 10_000 }).toBe(0);
    expect((((await ok(['listZones', `id=${zone.id}`]))['zone']) as Record<string, string>[])[0]).toMatchObject({ dns1: '8.8.4.4', guestcidraddress: '10.1.0.0/16' });

    // Details: a key/value pair added, read back by the CLI.
    const details = async () => (((await ok(['listZones', `id=${zone.id}`]))['zone']) as Record<string, unknown>[])[0]!['resourcedetails'];
    await page.getByRole('button', { name: 'Edit zone DNS Zone' }).click();
    await dialog.getByRole('button', { name: 'Add detail' }).click();
    await dialog.getByRole('textbox', { name: 'Detail 1 key' }).fill('rack');
    await dialog.getByRole('textbox', { name: 'Detail 1 value' }).fill('A4');
    await ui.shot('infra-edits-zone-details');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => dialog.count(), { timeout: 10_000 }).toBe(0);
    expect(await details()).toEqual({ rack: 'A4' });
    // A CloudStack client sending one detail keeps the others (updateZone merges, as CloudStack's editZone).
    await ok(['updateZone', `id=${zone.id}`, 'details[0].key=owner', 'details[0].value=lab']);
    expect(await details()).toEqual({ rack: 'A4', owner: 'lab' });
    // One row removed in the form: removeResourceDetail resourcetype=Zone key=rack; owner stays.
    await page.getByRole('button', { name: 'Edit zone DNS Zone' }).click();
    await expect.poll(() => dialog.getByRole('textbox', { name: 'Detail 2 key' }).inputValue()).toBe('owner');
    await dialog.getByRole('button', { name: 'Remove detail rack' }).click();
    await dialog.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => dialog.count(), { timeout: 10_000 }).toBe(0);
    expect(await details()).toEqual({ owner: 'lab' });
    expect(counter.count('removeResourceDetail')).toBe(1);
    // The last one: updateZone cleanupdetails=true.
    await page.getByRole('button', { name: 'Edit zone DNS Zone' }).click();
    await expect.poll(() => dialog.getByRole('textbox', { name: 'Detail 1 key' }).inputValue()).toBe('owner');
    await dialog.getByRole('button', { name: 'Remove detail owner' }).click();
    await dialog.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => dialog.count(), { timeout: 10_000 }).toBe(0);
    expect(await details()).toBeUndefined();
    await page.waitForTimeout(500);
    expect(counter.lists(), 'list requests while editing the zone').toEqual([]);
    expect(ui.pageErrors).toEqual([]);
  });
});
