// @vitest-environment happy-dom
/**
 * The import wizard's result table follows each VM's job on the 'jobs' channel (jobs-store): the
 * bar shows the job's progress and its message while it runs, then the result per VM.
 */
import './dom-bridge';
import { describe, expect, it } from 'vitest';
import { act, createElement } from 'react';
import { createRoot } from 'react-dom/client';
import { ImportProgress, type Run } from '../../renderer/src/views/import/ImportProgress';
import { useJobs } from '../../renderer/src/stores/jobs-store';

describe('import progress per VM', () => {
  it("shows each running job's progress and message from the jobs channel, and each VM's result", async () => {
    const container = document.createElement('div');
    document.body.appendChild(container);
    const root = createRoot(container);
    const render = (runs: Record<string, Run>) => act(async () => root.render(createElement(ImportProgress, { runs })));
    await render({ 'legacy-web': { state: 'running', jobid: 'j1' }, 'batch-1': { state: 'running', jobid: 'j2' } });
    const bar = (name: string) => container.querySelector<HTMLProgressElement>(`progress[aria-label="Import progress of ${name}"]`)!;
    expect(container.textContent).toContain('Importing…');

    await act(async () => useJobs.getState().apply({ jobid: 'j1', cmd: 'importUnmanagedInstance', status: 0, progress: 40, message: 'adopting the domain' }));
    expect(bar('legacy-web').value).toBe(40);
    expect(container.querySelector('tbody tr:nth-child(1)')!.textContent).toContain('adopting the domain');
    // The other VM's job has not reported: its bar stays indeterminate.
    expect(bar('batch-1').hasAttribute('value')).toBe(false);

    await render({ 'legacy-web': { state: 'done', vmId: 'vm-1' }, 'batch-1': { state: 'failed', text: '431: name: no unmanaged VM named batch-1' } });
    expect(bar('legacy-web').value).toBe(100);
    expect(container.querySelector('a')!.getAttribute('href')).toBe('#/vms/vm-1/overview');
    expect(container.querySelector('tbody tr:nth-child(2)')!.textContent).toBe('batch-1—Failed: 431: name: no unmanaged VM named batch-1');
    root.unmount();
    container.remove();
  });
});
