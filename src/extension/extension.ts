import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { abandonedNotice, settleAbandonedSubmits } from '../core/abandonedSubmits';
import { errorMessage, isMuseError } from '../core/errors';
import type { Run } from '../core/model';
import { runStorePath } from '../core/paths';
import { Poller, systemClock } from '../core/poller';
import { PollLease, announcesHere, windowId } from '../core/pollLease';
import { RunStore } from '../core/store';
import { Auth } from './auth';
import { Backends } from './backends';
import { lastCommandError } from './commands/register';
import { registerCommands } from './commands/registerCommands';
import { ContextKeys } from './contextKeys';
import { wireFollow } from './followWiring';
import { componentLog, createLogChannel } from './log';
import { registerProfileCommands } from './profileEditor/profileCommands';
import { ResultsFolders } from './resultsFolders';
import { RunDocuments } from './runDocuments';
import { RunNotifier } from './runNotifier';
import { PollLeaseKeeper } from './pollLeaseKeeper';
import { pollProfileRuns } from './pollRefresh';
import { RunsView } from './runsView';
import { Secrets } from './secrets';
import type { Services } from './services';
import { Settings } from './settings';
import { setAnswerer } from './prompts';
import type { Answerer } from './prompts';
import { vscodeSshPrompts } from './sshPrompts';
import { RunsStatusBar } from './statusBar';
import { isUserInitiated, outsideGesture } from './userGesture';
import { ZipFileSystem } from './zipFileSystem';

/**
 * What the extension exports to every other extension: nothing that changes its behaviour.
 * The bench reads how long activation took; `ready` says when the views show the runs.
 */
export interface MuseExtensionExports {
  /** Time `activate()` took, in ms. */
  readonly activationMs: number;
  /** Resolves once the run store is read and the views show it. */
  readonly ready: Promise<void>;
}

/**
 * The exports in test mode only (`context.extensionMode === Test`, as when VS Code or
 * code-server runs extension tests): the store, the poller, the tree's data, and the hook that
 * answers the extension's questions instead of the user.
 */
export interface MuseExtensionApi extends MuseExtensionExports {
  readonly store: RunStore;
  readonly poller: Poller;
  /** The backends the commands use (the bench measures the extension host's lag through them). */
  readonly backends: Backends;
  /** The Runs tree's data (tests read what the tree shows). */
  readonly runsView: RunsView;
  /** The last error a command showed, for tests. */
  lastCommandError(): string | undefined;
  /**
   * For tests: answer the extension's questions (SSH prompts, sign-in, expired session, run
   * ended) instead of the user; undefined restores the dialogs.
   */
  setPromptAnswerer(answerer: Answerer | undefined): void;
}

/**
 * What `activate()` returns for an extension mode: the test hooks in test mode only, so that
 * no other extension can answer a host key question or edit the run list through our exports.
 */
export function museExports(mode: vscode.ExtensionMode, api: MuseExtensionApi): MuseExtensionExports | MuseExtensionApi {
  if (mode === vscode.ExtensionMode.Test) return api;
  return Object.freeze({ activationMs: api.activationMs, ready: api.ready });
}

/** Wiring only: logger -> settings -> secrets -> backends -> store -> poller -> views -> commands. */
export function activate(context: vscode.ExtensionContext): MuseExtensionExports | MuseExtensionApi {
  const started = performance.now();
  const subs = context.subscriptions;

  // Logger
  const channel = createLogChannel();
  subs.push(channel);
  const log = (component: string) => componentLog(channel, component);

  // Settings
  const settings = new Settings();
  subs.push(settings);
  for (const p of settings.problems) log('settings').warn(p);

  // Secrets
  const secrets = new Secrets(context.secrets);
  subs.push(secrets);
  const auth = new Auth(secrets, settings, log('auth'));
  subs.push(auth);

  // Backends (loaded lazily, on first use)
  let agentMismatchShown = false;
  const backends = new Backends(
    settings,
    secrets,
    vscodeSshPrompts(),
    log('backend'),
    (why) => {
      // Another protocol version: say once what to do (reload); the window logs in by itself meanwhile.
      if (why.code !== 'usage' || agentMismatchShown) return;
      agentMismatchShown = true;
      void vscode.window.showWarningMessage(why.message);
    },
    // The agent's logins went with it: poll at the base interval again (not after a long backoff),
    // so a cluster that now needs a sign-in says so in the tree within a few poll intervals.
    () => poller.setBaseInterval(settings.pollIntervalMs),
  );
  subs.push(backends);

  // Run store, shared with the CLI and other windows
  // Read in the background: activation does no disk I/O it could avoid; views fill in when ready.
  const store = new RunStore(runStorePath());
  const loaded = store.load().then(
    () => store.warnings.forEach((w) => log('store').warn(w)),
    (e: unknown) => log('store').error(`cannot read ${store.file}: ${errorMessage(e)}`),
  );

  // Poller: one batched refresh per profile per cycle
  const pollLog = log('poller');
  /** Profiles whose last poll failed (a success clears "needs a sign-in" in the tree). */
  const pollFailed = new Set<string>();
  const poller = new Poller({
    runs: () => store.list(),
    baseIntervalMs: settings.pollIntervalMs,
    // Timed polls are background even when a command still in flight armed the timer (userGesture.ts).
    clock: { ...systemClock, setTimeout: (fn, ms) => systemClock.setTimeout(() => outsideGesture(fn), ms) },
    refresh: async (profileName, runs, signal) => {
      const backend = await backends.get(profileName);
      // Background polls renew a token silently at most once; they never open a dialog, nor ask an
      // SSH question (through the agent they fail with needsSignIn instead). A user's Refresh or
      // Sign In polls inside their gesture, and may.
      return auth.renewal(profileName, isUserInitiated()).run(() => pollProfileRuns(backend, store, runs, signal));
    },
    onError: (profile, e, n) => {
      pollLog.warn(`profile "${profile}": ${errorMessage(e)} (${n} in a row)`);
      pollFailed.add(profile);
      if (isMuseError(e, 'auth')) updateContext();
      if (isMuseError(e, 'auth') && e.details.needsSignIn) runsView.setNeedsSignIn(profile, true);
    },
    onPolled: (profile, changed, next) => {
      if (!pollFailed.delete(profile)) runsView.setNeedsSignIn(profile, false);
      pollLog.debug(`profile "${profile}": ${changed ? 'changed' : 'no change'}, next in ${Math.round(next / 1000)} s`);
      // A change reaches the tree through the store (onRuns); otherwise only elapsed times move.
      if (!changed) runsView.polled(profile);
    },
  });
  subs.push({ dispose: () => poller.dispose() });
  // One poller for the user: the window holding the poll lease polls, the others follow the store.
  const me = windowId();
  // The lease holder also marks submissions whose sending window or command stopped (abandonedSubmits.ts).
  const settleAbandoned = async (): Promise<void> => {
    await loaded;
    const marked = await settleAbandonedSubmits(store);
    if (marked.length) log('store').warn(abandonedNotice(marked.length));
  };
  const leaseKeeper = new PollLeaseKeeper(new PollLease(path.join(path.dirname(store.file), 'poller.lease'), me), poller, log('lease'), settleAbandoned);
  subs.push(leaseKeeper);
  poller.setFocused(vscode.window.state.focused);
  subs.push(vscode.window.onDidChangeWindowState((e) => poller.setFocused(e.focused)));
  subs.push(settings.onDidChange(() => poller.setBaseInterval(settings.pollIntervalMs)));

  // Views and documents
  const results = new ResultsFolders(settings, context.globalStorageUri);
  const zipFs = new ZipFileSystem(async (runId) => {
    const run = store.get(runId);
    if (!run) return undefined;
    // The content zip, or results that are the run folder zipped (returned_type run.zip).
    for (const f of [results.contentZip(run), results.resultsFile(run)]) {
      if (f.endsWith('.zip') && (await fs.promises.stat(f).catch(() => undefined))) return f;
    }
    return undefined;
  });
  subs.push(zipFs, vscode.workspace.registerFileSystemProvider(ZipFileSystem.scheme, zipFs, { isReadonly: true, isCaseSensitive: true }));
  const documents = new RunDocuments(store, backends, results, auth);
  subs.push(documents, vscode.workspace.registerTextDocumentContentProvider(RunDocuments.scheme, documents));
  const runsView = new RunsView(store, settings, backends);
  subs.push(runsView);
  const statusBar = new RunsStatusBar(store);
  subs.push(statusBar);
  // One notification per run end across windows: the submitting window, else the lease holder,
  // and only the one that wins the claim on the run.
  const announceHere = async (run: Run): Promise<boolean> => announcesHere(run, me, leaseKeeper.held) && (await store.claimNotification(run.id, me));
  let notifier = new RunNotifier([], announceHere);
  // On every store change (each poll that changes a state): nothing here reads secrets or settings.
  const onRuns = (runs: Run[]): void => {
    runsView.refresh();
    statusBar.update(runs);
    for (const r of notifier.update(runs)) documents.changed(r);
    poller.wake();
  };

  // The context key of the welcome views: it depends on settings and secrets only. (An empty
  // tree shows its welcome by itself: no key for "has runs".)
  const updateContext = (): void => {
    void (async () => {
      const active = settings.activeProfile;
      for (const p of settings.profiles) if (p.kind === 'ws') runsView.setSignedIn(p.name, await auth.isSignedIn(p));
      const state = settings.noProfileConfigured ? 'none' : active.kind === 'ws' && !(await auth.isSignedIn(active)) ? 'signedOut' : 'ready';
      await vscode.commands.executeCommand('setContext', 'muse:profileState', state);
    })().catch((e: unknown) => log('context').warn(errorMessage(e)));
  };
  subs.push(settings.onDidChange(updateContext), secrets.onDidChange(updateContext));

  const ready = loaded.then(() => {
    const runs = store.list();
    // Runs that end from now on are announced; those already ended are not.
    notifier = new RunNotifier(runs, announceHere);
    const offStore = store.onDidChange(onRuns);
    subs.push({ dispose: offStore }, store.watch());
    onRuns(runs);
    log('store').info(`${runs.length} runs in ${store.file}`);
  });

  // Commands
  // Called from commands: their gesture makes these polls the user's (they may ask).
  const refreshNow = (): Promise<void> => poller.refreshNow();
  const services: Services = { context, channel, log, settings, auth, backends, store, poller, runsView, documents, zipFs, results, windowId: me, refreshNow, ready };
  subs.push(...registerCommands(services, updateContext), ...registerProfileCommands(services));
  // Menus: Run only where the active profile can run the file, Sign In/Out only with a ws profile.
  subs.push(new ContextKeys(settings));
  subs.push(...wireFollow(services));
  updateContext();
  const activationMs = performance.now() - started;
  log('activate').info(`activated in ${activationMs.toFixed(1)} ms (${vscode.ExtensionMode[context.extensionMode]} mode)`);
  return museExports(context.extensionMode, { store, poller, backends, runsView, activationMs, lastCommandError, ready, setPromptAnswerer: setAnswerer });
}

export function deactivate(): void {
  // Everything is in context.subscriptions.
}
