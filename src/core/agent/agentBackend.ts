/**
 * The client side of an SSH profile served by the per-user agent: implements `Backend` by
 * sending each call to the agent (see FORWARDED_METHODS), which runs the real Slurm backend on
 * the one connection it holds for the target. Paths travel as they are: the agent runs on this
 * machine and reads the inputs and writes the results where this process would.
 */
import type { Backend, FollowAnswer, FollowOptions, FollowRead, OpOptions, OutputStream, RunRef, SubmitResult } from '../backend';
import type { ResultOutcome, SoftwareInfo, StateReport, SubmitRequest } from '../model';
import type { SshProfile } from '../profiles';
import type { SshPrompts } from '../sshPrompts';
import type { AgentClient } from './agentClient';
import type { ForwardedMethod } from './agentProtocol';

export class AgentBackend implements Backend {
  readonly kind = 'ssh' as const;

  /**
   * @param client this process's link to the agent (its maker disposes it)
   * @param prompts who answers this process's SSH questions (the terminal, the window)
   */
  constructor(
    private readonly profile: SshProfile,
    private readonly client: AgentClient,
    private readonly prompts: SshPrompts,
  ) {}

  private call<T>(method: ForwardedMethod, args: unknown[]): Promise<T> {
    return this.client.call(this.profile, method, args, this.prompts) as Promise<T>;
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
}
