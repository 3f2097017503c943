/**
 * A delete the engine refuses because the record is still in use, but would do when forced
 * (deleteTemplate with VMs made from it: CloudStack's `forced`). The UI never decides that
 * itself: only when listApis publishes the command's boolean `forced` parameter and the engine's
 * 431 names it ("…; expunge them first, or give forced=true") is the refusal shown, word for
 * word, with a second question; only a second yes sends the parameter.
 */
import type { ApiInfo } from '../stores/api-catalog-store';
import { useConfirm } from '../stores/confirm-store';
import { errorCode, errorText } from './model';
import { invokeAndWait } from './jobs';

/** The command's force parameter as listApis publishes it (a boolean named forced), or undefined. */
export function forcedParam(apis: Map<string, ApiInfo>, command: string): string | undefined {
  const param = apis.get(command.toLowerCase())?.params.find((p) => p.name.toLowerCase() === 'forced');
  return param?.type === 'boolean' ? param.name : undefined;
}

/** True when ERROR is the engine's refusal that PARAM=true would override (a 431 that names it). */
export function refusalOffersForce(error: unknown, param: string): boolean {
  return errorCode(error) === 431 && errorText(error).includes(`${param}=true`);
}

/**
 * Runs COMMAND for ID; when the engine refuses it in a way its force parameter overrides, shows
 * the refusal and asks again, then runs it forced. Throws the engine's refusal when the user says
 * no (nothing was deleted, and the caller's notice says why).
 */
export async function deleteWithForcedStep(apis: Map<string, ApiInfo>, command: string, id: string, what: string): Promise<void> {
  try {
    await invokeAndWait(command, { id });
  } catch (error) {
    const param = forcedParam(apis, command);
    if (!param || !refusalOffersForce(error, param)) throw error;
    const answer = await useConfirm.getState().ask({
      title: `${what.charAt(0).toUpperCase()}${what.slice(1)} is in use`,
      body: errorText(error),
      details: ['Deleting it anyway leaves those VMs their disks; they can no longer be reinstalled from it.'],
      choices: [
        { value: 'cancel', label: 'Keep it' },
        { value: 'force', label: 'Delete anyway', danger: true },
      ],
    });
    if (answer !== 'force') throw error;
    await invokeAndWait(command, { id, [param]: true });
  }
}
