/**
 * The actions of one VM as a menu button (MenuButton: the WAI-ARIA menu button pattern): the menu
 * lists what the registry offers in the VM's state; arrows move, Escape closes and returns focus.
 */
import type { Vm } from '../api/model';
import { actionsFor } from '../actions/vm-actions';
import { runVmAction } from '../actions/run-action';
import { hasApi, useApiCatalog } from '../stores/api-catalog-store';
import { useHostCapabilityMap } from '../stores/host-capabilities-store';
import { MenuButton, MenuItem } from './MenuButton';

export function ActionMenu({ vm, tabbable = true, label }: { vm: Vm; tabbable?: boolean; label?: string }) {
  const name = vm.displayname || vm.name;
  return (
    <MenuButton
      placement="portal"
      menuLabel={`Actions for ${name}`}
      className="menu-button"
      label={label ?? `Actions for ${name}`}
      tabIndex={tabbable ? 0 : -1}
      items={() => <VmActions vm={vm} name={name} />}
    >
      {/* One text node, not a span for the arrow: the button is in every row of the VM list (the aria-label names it). */}
      Actions ▾
    </MenuButton>
  );
}

/**
 * The open menu's actions. A closed menu is only its button: the button is in every row of the VM
 * list, each mounted as it scrolls in, so what only the open menu needs (the API catalog's and the
 * host capabilities' store subscriptions, the actions) is not mounted with every row (bench P6).
 * The list itself reads the host capabilities its VMs' hosts need (VmListView).
 */
function VmActions({ vm, name }: { vm: Vm; name: string }) {
  const apis = useApiCatalog((s) => s.apis);
  const hostCapabilities = useHostCapabilityMap(vm.hostid, hasApi(apis, 'listHosts'));
  const actions = actionsFor(vm, apis, hostCapabilities);
  if (actions.length === 0) return <p className="menu-empty">No actions apply while {name} is {vm.state}.</p>;
  return actions.map((action) => (
    <MenuItem key={action.id} danger={action.danger} title={action.title} onSelect={() => void runVmAction(action, vm)}>
      {action.label}
    </MenuItem>
  ));
}
