/**
 * The client side of an SSH profile served by the per-user agent: implements `Backend` by
 * sending each call to the agent (see FORWARDED_METHODS), which runs the real Slurm backend on
 * the one connection it holds for the target. Paths travel as they are: the agent runs on this
 * machine and reads the inputs and writes the results where this process would.
 */
import type { Backend, FollowAnswer, FollowOptions, FollowRead, OpOptions, OutputStream, RunRef, SubmitResult, SweepSubmit } from '../backend';
import { MuseError } from '../errors';
import type { ResultOutcome, SoftwareInfo, StateReport, SubmitRequest } from '../model';
import type { SshProfile } from '../profiles';
import type { SshPrompts } from '../sshPrompts';
import { AgentUnavailableError } from './agentUnavailable';
import type { AgentClient } from './agentClient';
import type { ForwardedMethod } from './agentProtocol';

/**
 * Makes the backend that works without the agent (the process's own SSH pool), when the agent
 * cannot be reached or used at all; told why (to log it, or show a version mismatch once).
 */
export type DirectFallback = (why: AgentUnavailableError) => Backend;

export class AgentBackend implements Backend {
  readonly kind = 'ssh' as const;
  private direct?: Backend;

  /**
   * @param client this process's link to the agent (its maker disposes it)
   * @param prompts who answers this process's SSH questions (the terminal, the window)
   * @param fallback used from the first call the agent could not take at all (nothing was sent)
   */
  constructor(
    private readonly profile: SshProfile,
    private readonly client: AgentClient,
    private readonly prompts: SshPrompts,
    private readonly fallback?: DirectFallback,
  ) {}

  /** `directArgs`: what the direct backend gets instead of `args` (callbacks cannot cross the socket). */
  private async call<T>(method: ForwardedMethod, args: unknown[], directArgs: unknown[] = args): Promise<T> {
    if (!this.direct) {
      try {
        return (await this.client.call(this.profile, method, args, this.prompts)) as T;
      } catch (e) {
        if (!(e instanceof AgentUnavailableError) || !this.fallback) throw e;
        this.direct ??= this.fallback(e);
      }
    }
    const fn = (this.direct as unknown as Record<string, (...a: unknown[]) => Promise<T>>)[method];
    if (typeof fn !== 'function') throw new MuseError('unsupported', `Profile "${this.profile.name}" cannot "${method}" without the Muse agent.`);
    return fn.apply(this.direct, directArgs);
  }

  /** Lets go of the direct backend, if one was made. */
  async dispose(): Promise<void> {
    await this.direct?.dispose?.();
  }

  submit(req: SubmitRequest, opts?: OpOptions): Promise<SubmitResult> {
    return this.call('submit', [req, opts]);
  }

  states(runs: RunRef[], opts?: OpOptions): Promise<Map<string, StateReport | Error>> {
    return this.call('states', [runs, opts]);
  }

  results(run: RunRef, destFile: string, opts?: OpOptions): Promise<ResultOutcome> {
    return this.call('results', [run, destFile, opts]);
  }

  content(run: RunRef, destFile: string, opts?: OpOptions): Promise<{ path: string; bytes: number }> {
    return this.call('content', [run, destFile, opts]);
  }

  output(run: RunRef, stream: OutputStream, destFile: string, opts?: OpOptions): Promise<{ path: string; bytes: number }> {
    return this.call('output', [run, stream, destFile, opts]);
  }

  cancel(run: RunRef, opts?: OpOptions): Promise<void> {
    return this.call('cancel', [run, opts]);
  }

  tail(run: RunRef, stream: OutputStream, maxBytes: number, opts?: OpOptions): Promise<string> {
    return this.call('tail', [run, stream, maxBytes, opts]);
  }

  follow(reads: FollowRead[], opts?: FollowOptions): Promise<FollowAnswer[]> {
    return this.call('follow', [reads, opts]);
  }

  listSoftware(opts?: OpOptions): Promise<SoftwareInfo[]> {
    return this.call('listSoftware', [opts]);
  }

  /**
   * A sweep as one Slurm array through the agent. `onSubmitted` cannot cross the socket: the
   * agent answers with every task's key at the end, and they are reported here then (one sbatch
   * gives them all at once, so nothing is learned later than it would be directly).
   */
  async submitSweep(req: SubmitRequest, sweep: SweepSubmit, opts?: OpOptions): Promise<void> {
    const { onSubmitted, ...plain } = sweep;
    const keys = await this.call<Array<[number, SubmitResult]> | undefined>('submitSweep', [req, plain, opts], [req, sweep, opts]);
    for (const [index, result] of keys ?? []) onSubmitted(index, result);
  }

  cancelSweep(tasks: RunRef[], opts?: OpOptions): Promise<void> {
    return this.call('cancelSweep', [tasks, opts]);
  }
}
