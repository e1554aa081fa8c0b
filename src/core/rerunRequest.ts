/**
 * Rerun: the request of a stored run, rebuilt to be sent again. The store keeps the file names
 * as they were in the run folder (`data/a.csv`), not where they came from: they are found again
 * under one folder (the extension's workspace folder). No vscode import.
 */
import * as fs from 'fs';
import * as path from 'path';
import { MuseError } from './errors';
import type { InputFile, Run, SubmitRequest } from './model';

async function isFile(p: string): Promise<boolean> {
  try {
    return (await fs.promises.stat(p)).isFile();
  } catch {
    return false;
  }
}

/**
 * The request that runs `run` again: the same software, command, options and file order, with
 * each file found again under `root` by its run-folder name. Throws `notFound` naming every
 * file that is missing (or all of them when there is no folder to look in).
 */
export async function rerunRequest(run: Pick<Run, 'software' | 'request'>, root: string | undefined): Promise<SubmitRequest> {
  const files: InputFile[] = [];
  const missing: string[] = [];
  for (const name of run.request.files) {
    const abs = root ? path.join(root, ...name.split('/')) : undefined;
    if (abs && (await isFile(abs))) files.push({ path: abs, name });
    else missing.push(name);
  }
  if (missing.length) throw new MuseError('notFound', `Cannot rerun: ${missing.join(', ')} not found in the workspace folder.`);
  const r = run.request;
  return {
    software: run.software,
    cmd: r.cmd,
    cmdOption: r.cmdOption,
    files,
    filesOrder: r.filesOrder,
    returnedType: r.returnedType,
    toDownload: r.toDownload,
    sbatchList: r.sbatchList,
    moduleList: r.moduleList,
  };
}
