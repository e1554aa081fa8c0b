/**
 * The Runs tree's structure, indexed once per store change: runs by id and by profile, each
 * profile's rows (plain runs and sweep rows, newest first by creation time) and each sweep's
 * tasks. No vscode import: the tree's getChildren is this index's lookups, unit-tested and timed
 * without VS Code.
 */
import type { Run } from '../core/model';
import { groupSweeps } from '../core/sweep/sweepGroups';
import type { SweepGroup } from '../core/sweep/sweepGroups';

/** A row under a profile: a run, or a sweep (its tasks under it). */
export type TopRow = { kind: 'run'; run: Run } | { kind: 'sweep'; sweep: SweepGroup };

export class RunsTreeIndex {
  readonly byId = new Map<string, Run>();
  /** Every run of each profile (sweep tasks included), newest first. */
  readonly byProfile = new Map<string, Run[]>();
  private readonly sweeps = new Map<string, SweepGroup>();
  private readonly rows = new Map<string, TopRow[]>();

  /** `runs`: the store's list, newest first. */
  constructor(readonly runs: Run[]) {
    for (const r of runs) {
      this.byId.set(r.id, r);
      const g = this.byProfile.get(r.profile);
      if (g) g.push(r);
      else this.byProfile.set(r.profile, [r]);
    }
  }

  /** The profile's rows: plain runs and one row per sweep, newest first by creation time. */
  topRows(profile: string): TopRow[] {
    let rows = this.rows.get(profile);
    if (!rows) {
      const runs = this.byProfile.get(profile) ?? [];
      const plain: TopRow[] = [];
      const withSweep: Run[] = [];
      for (const r of runs) {
        if (r.sweep) withSweep.push(r);
        else plain.push({ kind: 'run', run: r });
      }
      const sweepRows: TopRow[] = groupSweeps(withSweep).map((sweep) => {
        this.sweeps.set(sweep.id, sweep);
        return { kind: 'sweep', sweep };
      });
      // A sweep sits where its first task was created (a rerun of a task does not move it).
      const created = (row: TopRow): string => (row.kind === 'run' ? row.run.createdAt : row.sweep.createdAt);
      // Stable: runs keep the store's order among equals.
      rows = [...plain, ...sweepRows].sort((a, b) => (created(a) < created(b) ? 1 : created(a) > created(b) ? -1 : 0));
      this.rows.set(profile, rows);
    }
    return rows;
  }

  /** A sweep by id (its profile's rows are indexed on first use). */
  sweep(id: string): SweepGroup | undefined {
    const known = this.sweeps.get(id);
    if (known) return known;
    const task = this.runs.find((r) => r.sweep?.id === id);
    if (!task) return undefined;
    this.topRows(task.profile);
    return this.sweeps.get(id);
  }

  /** Whether a run is one of the tasks its sweep row shows (a task replaced by its rerun is not). */
  shownInSweep(run: Run): boolean {
    if (!run.sweep) return false;
    return this.sweep(run.sweep.id)?.tasks.some((t) => t.id === run.id) ?? false;
  }
}
