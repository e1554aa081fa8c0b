/**
 * The connection test of an SSH profile: what the cluster offers, asked in ONE remote command
 * (one round trip: Slurm's version and partitions, singularity/apptainer and its version,
 * environment modules, container images under a folder the user names), and the parsing of its
 * answer. Used by the extension's Add Profile / Test Connection through `testSshProfile`.
 */
import * as path from 'path';
import type { OpOptions } from '../../backend';
import { MuseError } from '../../errors';
import type { SshProfile } from '../../profiles';
import { shellCommand } from '../../shellQuote';
import type { SshPrompts } from '../../sshPrompts';
import type { ExecOptions, ExecResult } from './sshExec';
import type { SshConnectionPool } from './sshConnectionPool';

/** What a connection test found on the cluster. */
export interface ClusterReport {
  /** `slurm 22.05.8` as `sinfo --version` prints it; undefined when Slurm is not there. */
  slurmVersion?: string;
  /** Partition names (the default one first, without its `*`). */
  partitions: string[];
  defaultPartition?: string;
  /** The container command found (`singularity` or `apptainer`) and the first line of its `--version`. */
  container?: { command: string; path: string; version: string };
  /** Environment modules, when the `module` command exists (undefined: no module system). */
  modules?: string[];
  /** Container images under the folder asked about: `.sif`/`.simg` files and sandbox folders. */
  images: { name: string; path: string }[];
  /** The folder the images were looked for in, as the cluster resolved it. */
  imagesFolder?: string;
  /** Problems worth telling the user (a folder that does not exist, sinfo's error). */
  notes: string[];
}

/** Marks a section of the probe's answer; a line no program prints. */
const MARK = '@@muse-probe@@';
const SECTIONS = ['slurm', 'partitions', 'container', 'modules', 'images'] as const;
type Section = (typeof SECTIONS)[number];
/** Listings are capped: a login node with thousands of modules must not flood the answer. */
const MAX_LINES = 500;

/**
 * The probe as one `sh -c` script; the folder is its `$1` (never pasted into the script).
 * Each section prints `MARK name`, its lines, then `MARK end name <exit status>`.
 */
const SCRIPT = [
  `m() { printf '%s %s\\n' '${MARK}' "$*"; }`,
  `m slurm; sinfo --version 2>&1; m end slurm $?`,
  `m partitions; sinfo -h -o '%P' 2>&1 | head -n ${MAX_LINES}; m end partitions $?`,
  // apptainer first: where both exist, singularity is often apptainer's compatibility link.
  `m container; c=''; for x in apptainer singularity; do p=$(command -v "$x" 2>/dev/null) && { c=$x; break; }; done; ` +
    `if [ -n "$c" ]; then printf '%s\\n%s\\n' "$c" "$p"; "$c" --version 2>&1 | head -n 1; m end container 0; else m end container 127; fi`,
  // `module` is a shell function of login shells: load its init for sh when the system has one.
  `m modules; [ -n "\${MODULESHOME:-}" ] && [ -f "$MODULESHOME/init/sh" ] && . "$MODULESHOME/init/sh" >/dev/null 2>&1; ` +
    `if command -v module >/dev/null 2>&1; then module -t avail 2>&1 | head -n ${MAX_LINES}; m end modules 0; else m end modules 127; fi`,
  `m images; if [ -z "$1" ]; then m end images 0; elif [ -d "$1" ]; then cd -- "$1" && pwd && ` +
    `find . -maxdepth 3 \\( -name '*.sif' -o -name '*.simg' -o \\( -type d -name .singularity.d -prune \\) \\) -print 2>/dev/null | head -n ${MAX_LINES}; m end images 0; ` +
    `else m end images 2; fi`,
].join('\n');

/** The probe's remote command line: `sh -c SCRIPT sh FOLDER`, every part quoted. */
export function probeCommand(imagesFolder: string | undefined): string {
  return shellCommand(['sh', '-c', SCRIPT, 'sh', imagesFolder ?? '']);
}

/** Parses the probe's answer (its standard output) into a report. */
export function parseProbeOutput(out: string, imagesFolder?: string): ClusterReport {
  const lines = new Map<Section, string[]>();
  const status = new Map<Section, number>();
  let current: Section | undefined;
  for (const raw of out.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line.startsWith(`${MARK} `)) {
      const words = line.slice(MARK.length + 1).split(' ');
      if (words[0] === 'end') {
        const s = words[1] as Section;
        if (SECTIONS.includes(s)) status.set(s, Number(words[2]));
        current = undefined;
      } else if (SECTIONS.includes(words[0] as Section)) {
        current = words[0] as Section;
        lines.set(current, []);
      }
      continue;
    }
    if (current && line.trim() !== '') lines.get(current)!.push(line.trim());
  }
  const of = (s: Section): string[] => lines.get(s) ?? [];
  const report: ClusterReport = { partitions: [], images: [], notes: [] };

  const slurm = of('slurm')[0];
  if (status.get('slurm') === 0 && slurm && /^slurm/i.test(slurm)) report.slurmVersion = slurm;
  else report.notes.push(`Slurm was not found (sinfo: ${of('slurm').at(-1) ?? 'no answer'}).`);

  if (status.get('partitions') === 0 && report.slurmVersion) {
    for (const p of of('partitions')) {
      const name = p.replace(/\*$/, '');
      if (p.endsWith('*')) report.defaultPartition = name;
      if (!report.partitions.includes(name)) report.partitions.push(name);
    }
    if (report.defaultPartition) report.partitions = [report.defaultPartition, ...report.partitions.filter((p) => p !== report.defaultPartition)];
  }

  const c = of('container');
  if (status.get('container') === 0 && c.length >= 2) report.container = { command: c[0], path: c[1], version: c[2] ?? '' };
  else report.notes.push('Neither apptainer nor singularity is on the PATH of a login shell.');

  // `module -t avail` prints folder headings ending in ':' and one module per line.
  if (status.get('modules') === 0) report.modules = of('modules').filter((l) => !l.endsWith(':') && !/^-+/.test(l));

  if (imagesFolder) {
    if (status.get('images') === 0) {
      const [resolved, ...found] = of('images');
      report.imagesFolder = resolved;
      for (const f of found) {
        const rel = f.replace(/^\.\//, '');
        // A sandbox image is the folder holding `.singularity.d`.
        const image = rel.endsWith('.singularity.d') ? path.posix.dirname(rel) : rel;
        if (image === '.' || image === '') continue;
        const name = path.posix.basename(image).replace(/\.(sif|simg)$/, '');
        report.images.push({ name, path: path.posix.join(resolved ?? imagesFolder, image) });
      }
      if (report.images.length === 0) report.notes.push(`No .sif image (or sandbox folder) under ${resolved ?? imagesFolder}.`);
    } else {
      report.notes.push(`The folder ${imagesFolder} does not exist on the cluster.`);
    }
  }
  return report;
}

/** Runs the probe over a connection (anything with `execLine`) and parses its answer. */
export async function probeCluster(
  conn: { execLine(command: string, opts?: ExecOptions): Promise<ExecResult> },
  imagesFolder: string | undefined,
  opts: OpOptions = {},
): Promise<ClusterReport> {
  const r = await conn.execLine(probeCommand(imagesFolder), { signal: opts.signal });
  const out = r.stdout.toString('utf8');
  if (!out.includes(MARK)) {
    throw new MuseError('server', `The cluster's shell did not run the connection test (exit ${r.code ?? r.signal}): ${r.stderr.toString('utf8').trim() || 'no message'}`);
  }
  return parseProbeOutput(out, imagesFolder);
}

/**
 * Tests an SSH profile: logs in through `pool` (the user is asked about an unknown host key or a
 * passphrase through `prompts`), runs the probe, and lets go of the connection again (the pool
 * keeps it while others use it).
 */
export async function testSshProfile(profile: SshProfile, prompts: SshPrompts, pool: SshConnectionPool, imagesFolder: string | undefined, opts: OpOptions = {}): Promise<ClusterReport> {
  // Required when called: ssh2 is loaded only by whoever tests or uses an SSH profile.
  const { SlurmBackend } = require('./slurmBackend') as typeof import('./slurmBackend');
  const backend = new SlurmBackend(profile, prompts, pool);
  try {
    const conn = await backend.connection();
    return await probeCluster(conn, imagesFolder?.trim() || undefined, opts);
  } finally {
    await backend.dispose();
  }
}
