/**
 * When the agent cannot be used at all: `AgentUnavailableError` (nothing was sent, so the caller
 * may do the work itself), `nobodyThere` (the socket errors that mean no agent listens) and the
 * "Cannot reach the Muse agent" message.
 */
import { MuseError, errorMessage } from '../errors';

/**
 * The agent could not be reached or used at all (not started, refused the handshake, another
 * protocol version): nothing was sent, so the caller may do the work itself (`AgentBackend`'s fallback).
 */
export class AgentUnavailableError extends MuseError {
  /** The pid of an agent of another protocol version (`stop` signals it). */
  agentPid?: number;
  // MuseError's own instanceof test accepts any MuseError: this one checks its own brand.
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as { [AGENT_UNAVAILABLE]?: unknown })[AGENT_UNAVAILABLE] === true;
  }
}
const AGENT_UNAVAILABLE = Symbol.for('muse-runner.AgentUnavailableError');
Object.defineProperty(AgentUnavailableError.prototype, AGENT_UNAVAILABLE, { value: true });

/**
 * True for the errors of a socket nobody listens on: absent, left by a dead agent, or reset by
 * an agent dying (or stopping) as we connect.
 */
export function nobodyThere(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'ECONNRESET';
}

/** A failure to reach the agent at `socketPath` as a `MuseError` (one already is kept as it is). */
export function unreachableError(socketPath: string, e: unknown, why?: string): MuseError {
  if (e instanceof MuseError) return e;
  return new AgentUnavailableError('network', `Cannot reach the Muse agent at ${socketPath}${why ? ` (${why})` : ''}: ${errorMessage(e)}.`, { notSent: true, cause: e });
}
