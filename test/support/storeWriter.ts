/**
 * Child process for the run store tests.
 *   storeWriter add FILE TAG COUNT      adds COUNT runs (ids TAG-0..) one by one
 *   storeWriter crash FILE ID           adds one run, and dies (SIGKILL) between temp write and rename
 */
import { RunStore } from '../../src/core/store';
import type { Run } from '../../src/core/model';

export function makeRun(id: string, extra: Partial<Run> = {}): Run {
  const now = new Date().toISOString();
  return {
    id,
    profile: 'local',
    backend: 'local',
    software: 'sw_example',
    request: { cmd: 'python /add.py 4 5', cmdOption: '', files: [], filesOrder: [], returnedType: 'stdout', toDownload: false, sbatchList: [], moduleList: [] },
    state: 'waiting',
    raw: {},
    createdAt: now,
    updatedAt: now,
    ...extra,
  };
}

async function main(): Promise<void> {
  const [cmd, file, a, b] = process.argv.slice(2);
  if (cmd === 'add') {
    const store = new RunStore(file);
    await store.load();
    for (let i = 0; i < Number(b); i++) await store.add(makeRun(`${a}-${i}`, { key: `key-${a}-${i}` }));
  } else if (cmd === 'crash') {
    const store = new RunStore(file, {
      hooks: { beforeRename: () => void process.kill(process.pid, 'SIGKILL') },
    });
    await store.load();
    await store.add(makeRun(a));
  } else {
    throw new Error(`unknown command ${cmd}`);
  }
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
