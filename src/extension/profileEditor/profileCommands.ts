import * as vscode from 'vscode';
import { command } from '../commands/register';
import type { Services } from '../services';
import { addProfile, editProfile, testConnection } from './profileFlows';
import type { AddProfileOptions } from './profileFlows';

/** The walkthrough's id as `workbench.action.openWalkthrough` takes it. */
export const WALKTHROUGH_ID = 'muse-runner.muse-runner#muse.gettingStarted';

/** A profile node of the Runs tree (`{type: 'profile', name}`) gives its name. */
function profileName(arg: unknown): string | undefined {
  return arg && typeof arg === 'object' && (arg as { type?: string }).type === 'profile' ? String((arg as { name: unknown }).name) : typeof arg === 'string' ? arg : undefined;
}

function addOptions(arg: unknown): AddProfileOptions {
  return arg && typeof arg === 'object' && !('type' in arg) ? (arg as AddProfileOptions) : {};
}

/** Add Profile, Edit Profile, Test Connection, and the walkthrough. */
export function registerProfileCommands(s: Services): vscode.Disposable[] {
  return [
    command(s, 'muse.addProfile', (arg?: unknown) => addProfile(s, addOptions(arg))),
    command(s, 'muse.editProfile', (arg?: unknown, opts?: unknown) => editProfile(s, profileName(arg), addOptions(opts))),
    command(s, 'muse.testConnection', (arg?: unknown) => testConnection(s, profileName(arg))),
    command(s, 'muse.openWalkthrough', () => vscode.commands.executeCommand('workbench.action.openWalkthrough', WALKTHROUGH_ID, false)),
  ];
}
