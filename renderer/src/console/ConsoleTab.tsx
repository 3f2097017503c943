/**
 * A VM's Console tab: says which consoles the VM has (listVirtualMachines `consoles`, from its
 * host's console facet) and switches between the serial console and the graphical one.
 */
import { useState } from 'react';
import type { Vm } from '../api/model';
import { SerialConsole } from './SerialConsole';
import { GraphicalConsole } from './GraphicalConsole';
import { appliesInState, useApiCatalog } from '../stores/api-catalog-store';

type Mode = 'serial' | 'graphical';

/** The VM's consoles in words: "a serial console and a graphical console (VNC)". */
export function describeConsoles(kinds: string[]): string {
  const names = kinds.map((k) => (k === 'serial' ? 'a serial console' : `a graphical console (${k.toUpperCase()})`));
  if (names.length === 0) return 'Its host has not said which consoles it offers.';
  return `This VM has ${names.join(' and ')}.`;
}

export function ConsoleTab({ vm }: { vm: Vm }) {
  const kinds = (vm.consoles ?? '').split(',').filter(Boolean);
  const hasSerial = kinds.includes('serial');
  const hasGraphical = kinds.some((k) => k !== 'serial');
  const [chosen, setChosen] = useState<Mode>(hasSerial || !hasGraphical ? 'serial' : 'graphical');
  const mode: Mode = chosen === 'graphical' && hasGraphical ? 'graphical' : 'serial';
  const apis = useApiCatalog((s) => s.apis);
  // The consoles apply in the states the engine declares for them (createConsoleEndpoint's vmstates).
  const available = appliesInState(apis, 'createConsoleEndpoint', vm.state);
  return (
    <div className="console-tab">
      <div className="console-kinds">
        <p>{describeConsoles(kinds)}</p>
        {hasSerial && hasGraphical && (
          <div className="segmented" role="group" aria-label="Console type">
            {(['serial', 'graphical'] as const).map((m) => (
              <button key={m} type="button" aria-pressed={mode === m} onClick={() => setChosen(m)}>
                {m === 'serial' ? 'Serial' : 'Graphical'}
              </button>
            ))}
          </div>
        )}
      </div>
      {!available ? (
        <div className="console-message" role="status">
          <strong>The console is not available: {vm.displayname || vm.name} is {vm.state}.</strong>
          <p>The consoles open while the VM is running. Start it, then come back here.</p>
        </div>
      ) : mode === 'graphical' ? (
        <GraphicalConsole vm={vm} />
      ) : (
        <SerialConsole vm={vm} />
      )}
    </div>
  );
}
