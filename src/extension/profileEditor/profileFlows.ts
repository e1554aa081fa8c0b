/**
 * Add Profile / Edit Profile: guided quick inputs for an SSH (Slurm) or web API profile, a
 * connection test that reports what it found, and the profile written to the user settings.
 */
import * as vscode from 'vscode';
import { MuseError, errorMessage } from '../../core/errors';
import type { Profile, SshProfile, WsProfile } from '../../core/profiles';
import { loadCore } from '../coreBundle';
import { ask } from '../prompts';
import type { Services } from '../services';
import { describeCluster, describeSoftware, testSsh, testWs } from './connectionTest';
import type { TestOutcome } from './connectionTest';
import { BACK, QuickSteps } from './quickSteps';
import type { Back } from './quickSteps';

/** Options a caller (a test, a walkthrough link) may pass to Add Profile. */
export interface AddProfileOptions {
  /** The ssh config file whose hosts are offered, and that the profile then reads (default `~/.ssh/config`). */
  sshConfigFile?: string;
  /** known_hosts file of the new SSH profile (default `~/.ssh/known_hosts`). */
  knownHostsFile?: string;
}

const KIND_SSH = 'Slurm over SSH';
const KIND_WS = 'Muse web API';
const TYPE_HOST = 'Enter user@host[:port]...';

/** The profiles of the user settings (not a workspace's: profiles have machine scope). */
export function userProfiles(): Record<string, unknown>[] {
  const v = vscode.workspace.getConfiguration('muse').inspect<unknown>('profiles')?.globalValue;
  return Array.isArray(v) ? (v as Record<string, unknown>[]) : [];
}

/** Writes `profile` to the user settings, in place of the profile named `replacing` if given. */
async function saveProfile(profile: Profile, replacing?: string): Promise<void> {
  const list = userProfiles();
  const at = list.findIndex((p) => p.name === (replacing ?? profile.name));
  const next = at >= 0 ? list.map((p, i) => (i === at ? { ...profile } : p)) : [...list, { ...profile }];
  await vscode.workspace.getConfiguration('muse').update('profiles', next, vscode.ConfigurationTarget.Global);
}

/** The last step of both flows: the profile's name, checked against the rules and the names taken. */
async function nameStep(steps: QuickSteps, step: number, name: string, taken: string[]): Promise<string | Back> {
  const v = await steps.input(step, { id: 'profile.name', prompt: 'Name of the profile', value: name, validate: nameCheck(taken) });
  return v === BACK ? BACK : v.trim();
}

function nameCheck(taken: string[]): (v: string) => string | undefined {
  return (v) => {
    const name = v.trim();
    if (!name) return 'A profile needs a name.';
    if (name === 'local') return '"local" is the name of the local runner.';
    if (taken.includes(name)) return `A profile named "${name}" exists already.`;
    return undefined;
  };
}

function destinationCheck(v: string): string | undefined {
  if (!v.trim()) return 'Type user@host, or user@host:port.';
  try {
    loadCore().parseDestination(v);
    return undefined;
  } catch (e) {
    return errorMessage(e);
  }
}

function remoteFolderCheck(v: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f]/.test(v)) return 'A folder name cannot hold a line break or a control character.';
  if (v.trim() && !v.trim().startsWith('/') && !v.trim().startsWith('~')) return 'Give an absolute path, or one starting with ~/.';
  return undefined;
}

function urlCheck(v: string): string | undefined {
  try {
    const u = new URL(v.trim());
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'The URL must start with https:// (or http://).';
    return undefined;
  } catch {
    return 'Type the address of the API, e.g. https://muse.example.org/api/';
  }
}

/** Shows a test's report; returns the choice (`choices`), undefined when dismissed. */
export function showOutcome(o: TestOutcome, choices: string[]): Promise<string | undefined> {
  return ask({ kind: 'message', id: 'profile.testReport', severity: o.ok ? 'info' : 'warning', modal: true, message: o.headline, detail: o.lines.join('\n'), choices });
}

/** The SSH steps: host, remote folder, images folder, name; then the test and the images to offer. */
async function sshFlow(s: Services, steps: QuickSteps, first: number, taken: string[], opts: AddProfileOptions, old?: SshProfile): Promise<SshProfile | Back | undefined> {
  steps.setTotal(first + 3);
  const hosts = await loadCore().listSshConfigHosts(opts.sshConfigFile ?? old?.sshConfigFile);
  let dest: { host: string; user?: string; port?: number; alias: boolean } | undefined;
  let remoteRoot = old?.remoteRoot ?? '~/muse-runs';
  let imagesFolder = old ? Object.values(old.images ?? {})[0]?.replace(/\/[^/]+$/, '') ?? '' : '';
  let name = old?.name ?? '';
  for (let step = first; ; ) {
    if (step === first) {
      const items = [
        ...hosts.map((h) => ({ label: h.alias, description: [h.user && `${h.user}@`, h.hostName ?? h.alias, h.port && `:${h.port}`].filter(Boolean).join(''), detail: `from ${h.file}` })),
        { label: TYPE_HOST, description: 'a host that is not in your SSH config' },
      ];
      const picked = await steps.pick(step, { id: 'profile.sshHost', placeholder: hosts.length ? 'Host from your SSH config' : 'No Host in your SSH config: type one', items });
      if (picked === BACK) return BACK;
      if (picked[0].label === TYPE_HOST) {
        const typed = await steps.input(step, { id: 'profile.sshDestination', prompt: 'SSH destination of the cluster\'s login node', placeholder: 'user@login.cluster.example.org:22', value: old ? [old.user && `${old.user}@`, old.host, old.port && `:${old.port}`].filter(Boolean).join('') : '', validate: destinationCheck });
        if (typed === BACK) continue;
        dest = { ...loadCore().parseDestination(typed), alias: false };
      } else {
        dest = { host: picked[0].label, alias: true };
      }
      name ||= dest.host;
      step++;
    } else if (step === first + 1) {
      const v = await steps.input(step, { id: 'profile.remoteRoot', prompt: 'Folder on the cluster for the run folders', value: remoteRoot, validate: remoteFolderCheck });
      if (v === BACK) { step--; continue; }
      remoteRoot = v.trim() || '~/muse-runs';
      step++;
    } else if (step === first + 2) {
      const v = await steps.input(step, { id: 'profile.imagesFolder', prompt: 'Folder on the cluster holding Singularity/Apptainer images (.sif), to offer them as software; empty to skip', value: imagesFolder, validate: remoteFolderCheck });
      if (v === BACK) { step--; continue; }
      imagesFolder = v.trim();
      step++;
    } else {
      const v = await nameStep(steps, step, name, taken);
      if (v === BACK) { step--; continue; }
      name = v;
      break;
    }
  }
  const profile: SshProfile = { ...(old ?? {}), name, kind: 'ssh', host: dest!.host, remoteRoot };
  for (const k of ['user', 'port'] as const) {
    if (dest![k] !== undefined) (profile as unknown as Record<string, unknown>)[k] = dest![k];
    else if (!old || dest!.alias) delete profile[k];
  }
  if (opts.sshConfigFile) profile.sshConfigFile = opts.sshConfigFile;
  if (opts.knownHostsFile) profile.knownHostsFile = opts.knownHostsFile;

  const report = await testSsh(s, profile, imagesFolder || undefined);
  const outcome = describeCluster(profile, report);
  const save = 'Save Profile';
  if ((await showOutcome(outcome, [save])) !== save) return undefined;
  // The path the login shell found: batch jobs then use the same one, whatever their PATH.
  if (report.container) profile.singularityCommand = report.container.path;
  if (report.images.length) {
    const chosen = await steps.pick(first + 4, {
      id: 'profile.images',
      placeholder: 'Images to offer as software (the software name is the image\'s)',
      many: true,
      items: report.images.map((i) => ({ label: i.name, description: i.path, picked: true })),
    });
    if (chosen !== BACK) profile.images = { ...(profile.images ?? {}), ...Object.fromEntries(chosen.map((i) => [i.label, i.description!])) };
  }
  return profile;
}

/** The web API steps: URL, username, name; then sign in and the software list. */
async function wsFlow(s: Services, steps: QuickSteps, first: number, taken: string[], old?: WsProfile): Promise<WsProfile | Back | undefined> {
  steps.setTotal(first + 2);
  let url = old?.url ?? 'https://';
  let username = old?.username ?? '';
  let name = old?.name ?? '';
  for (let step = first; ; ) {
    if (step === first) {
      const v = await steps.input(step, { id: 'profile.url', prompt: 'Address of the Muse web API (ending in /api/)', value: url, validate: urlCheck });
      if (v === BACK) return BACK;
      url = v.trim();
      if (!url.endsWith('/')) url += '/';
      name ||= new URL(url).hostname;
      step++;
    } else if (step === first + 1) {
      const v = await steps.input(step, { id: 'profile.username', prompt: 'Your username on it (asked again at sign in if empty)', value: username });
      if (v === BACK) { step--; continue; }
      username = v.trim();
      step++;
    } else {
      const v = await nameStep(steps, step, name, taken);
      if (v === BACK) { step--; continue; }
      name = v;
      break;
    }
  }
  const profile: WsProfile = { ...(old ?? {}), name, kind: 'ws', url };
  if (username) profile.username = username;
  else delete profile.username;
  const list = await testWs(s, profile);
  if (!list) throw new MuseError('cancelled', 'Not signed in: the profile was not saved.');
  const save = 'Save Profile';
  if ((await showOutcome(describeSoftware(profile, list), [save])) !== save) return undefined;
  return profile;
}

/** Muse: Add Profile... Returns the saved profile (undefined when cancelled). */
export async function addProfile(s: Services, opts: AddProfileOptions = {}): Promise<Profile | undefined> {
  const steps = new QuickSteps('Muse: Add Profile', 4);
  const taken = s.settings.profiles.map((p) => p.name);
  for (;;) {
    const kind = await steps.pick(1, {
      id: 'profile.kind',
      placeholder: 'Where should runs go?',
      items: [
        { label: KIND_SSH, description: 'sbatch + singularity on a cluster you reach with ssh' },
        { label: KIND_WS, description: 'the Muse service over HTTPS, with your Muse account' },
      ],
    });
    if (kind === BACK) continue;
    const profile = kind[0].label === KIND_SSH ? await sshFlow(s, steps, 2, taken, opts) : await wsFlow(s, steps, 2, taken);
    if (profile === BACK) continue;
    if (!profile) return undefined;
    await saveProfile(profile);
    await s.settings.setActiveProfile(profile.name);
    void vscode.window.showInformationMessage(`Muse: profile "${profile.name}" saved to your user settings; new runs go to it.`);
    return profile;
  }
}

/** Muse: Edit Profile... for a profile of the user settings (name given, or picked). */
export async function editProfile(s: Services, name?: string, opts: AddProfileOptions = {}): Promise<Profile | undefined> {
  const editable = userProfiles().filter((p) => p.kind === 'ssh' || p.kind === 'ws');
  if (editable.length === 0) throw new MuseError('usage', 'No SSH or web API profile in your user settings: use Muse: Add Profile...');
  name ??= editable.length === 1 ? String(editable[0].name) : await ask({ kind: 'pick', id: 'profile.pickEdit', title: 'Muse: Edit Profile', placeHolder: 'Profile to edit', items: editable.map((p) => ({ label: String(p.name), description: String(p.kind === 'ssh' ? p.host : p.url) })) });
  const old = editable.find((p) => p.name === name) as unknown as SshProfile | WsProfile | undefined;
  if (!old) return undefined;
  const steps = new QuickSteps(`Muse: Edit Profile ${old.name}`, 4);
  const taken = s.settings.profiles.map((p) => p.name).filter((n) => n !== old.name);
  const profile = old.kind === 'ssh' ? await sshFlow(s, steps, 1, taken, opts, old) : await wsFlow(s, steps, 1, taken, old);
  if (!profile || profile === BACK) return undefined;
  await saveProfile(profile, old.name);
  if (s.settings.activeProfile.name === old.name && profile.name !== old.name) await s.settings.setActiveProfile(profile.name);
  void vscode.window.showInformationMessage(`Muse: profile "${profile.name}" saved to your user settings.`);
  return profile;
}

/** Muse: Test Connection for a profile (the clicked one, the active one, or a pick). */
export async function testConnection(s: Services, name?: string): Promise<TestOutcome | undefined> {
  const remote = s.settings.profiles.filter((p): p is SshProfile | WsProfile => p.kind === 'ssh' || p.kind === 'ws');
  if (remote.length === 0) throw new MuseError('usage', 'No SSH or web API profile to test: use Muse: Add Profile...');
  const active = s.settings.activeProfile;
  name ??= remote.some((p) => p.name === active.name) ? active.name : remote.length === 1 ? remote[0].name : await ask({ kind: 'pick', id: 'profile.pickTest', title: 'Muse: Test Connection', placeHolder: 'Profile to test', items: remote.map((p) => ({ label: p.name, description: p.kind === 'ssh' ? p.host : p.url })) });
  const profile = remote.find((p) => p.name === name);
  if (!profile) return undefined;
  let outcome: TestOutcome;
  if (profile.kind === 'ssh') {
    const folders = [...new Set(Object.values(profile.images ?? {}).map((i) => i.replace(/\/[^/]+\/?$/, '')))];
    outcome = describeCluster(profile, await testSsh(s, profile, folders[0]));
  } else {
    const list = await testWs(s, profile);
    if (!list) return undefined;
    outcome = describeSoftware(profile, list);
  }
  await showOutcome(outcome, []);
  return outcome;
}
