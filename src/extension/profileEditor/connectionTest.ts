import * as vscode from 'vscode';
import type { ClusterReport } from '../../core/backends/slurm/clusterProbe';
import { cancelledError } from '../../core/errors';
import type { SoftwareInfo } from '../../core/model';
import type { SshProfile, WsProfile } from '../../core/profiles';
import { loadCore } from '../coreBundle';
import type { Services } from '../services';
import { vscodeSshPrompts } from '../sshPrompts';

/** What a connection test found, as a user reads it: a headline and one line per finding. */
export interface TestOutcome {
  ok: boolean;
  headline: string;
  lines: string[];
}

/** Runs `work` under a cancellable notification; Cancel aborts it (the SSH channel closes). */
function withCancellableProgress<T>(title: string, work: (signal: AbortSignal) => Promise<T>): Thenable<T> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (_p, token) => {
    const ac = new AbortController();
    const sub = token.onCancellationRequested(() => ac.abort());
    try {
      const r = await work(ac.signal);
      if (ac.signal.aborted) throw cancelledError(title);
      return r;
    } finally {
      sub.dispose();
    }
  });
}

/**
 * Logs in to an SSH profile and asks the cluster, in one command, what it offers (Slurm,
 * partitions, singularity/apptainer, modules, images under `imagesFolder`).
 */
export function testSsh(s: Services, profile: SshProfile, imagesFolder: string | undefined): Thenable<ClusterReport> {
  // Through the window's SSH pool: the login made for the test is the one the runs then use.
  return withCancellableProgress(`Muse: testing the connection to ${profile.host}...`, (signal) =>
    loadCore().testSshProfile(profile, vscodeSshPrompts(), s.backends.sshConnections, imagesFolder, { signal }),
  );
}

/** The report of an SSH test, line by line. */
export function describeCluster(profile: SshProfile, r: ClusterReport): TestOutcome {
  const lines = [
    `Slurm: ${r.slurmVersion ?? 'not found'}`,
    `Partitions: ${r.partitions.length ? r.partitions.map((p) => (p === r.defaultPartition ? `${p} (default)` : p)).join(', ') : 'none listed'}`,
    `Containers: ${r.container ? `${r.container.command} at ${r.container.path} (${r.container.version || 'no version'})` : 'neither apptainer nor singularity found'}`,
    `Environment modules: ${r.modules === undefined ? 'no module command' : r.modules.length ? `${r.modules.length} (${r.modules.slice(0, 8).join(', ')}${r.modules.length > 8 ? ', ...' : ''})` : 'none available'}`,
  ];
  if (r.imagesFolder || r.images.length) lines.push(`Images in ${r.imagesFolder ?? 'the folder'}: ${r.images.map((i) => i.name).join(', ') || 'none'}`);
  lines.push(...r.notes);
  const ok = !!r.slurmVersion;
  return { ok, headline: ok ? `Connected to ${profile.host}: Slurm is there.` : `Connected to ${profile.host}, but Slurm was not found.`, lines };
}

/**
 * The web API test: signed in (asked now when not), then the software list. Returns undefined
 * when the user did not sign in.
 */
export async function testWs(s: Services, profile: WsProfile): Promise<SoftwareInfo[] | undefined> {
  if (!(await s.auth.isSignedIn(profile)) && !(await s.auth.signIn(profile))) return undefined;
  const backend = await s.backends.get(profile);
  return withCancellableProgress(`Muse: listing the software of ${profile.name}...`, (signal) =>
    s.auth.renewal(profile, true).run(() => backend.listSoftware!({ signal })),
  );
}

/** The report of a web API test. */
export function describeSoftware(profile: WsProfile, list: SoftwareInfo[]): TestOutcome {
  const names = list.map((sw) => sw.name);
  return {
    ok: true,
    headline: `Signed in to ${profile.name}: ${list.length} software available.`,
    lines: [`API: ${profile.url}`, `Software: ${names.slice(0, 12).join(', ')}${names.length > 12 ? ', ...' : ''}`],
  };
}
