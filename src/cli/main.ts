import { Command } from 'commander';

const program = new Command('muse');
program.description('Run software on the Muse cluster (web API, SSH/Slurm) or locally.').version('0.1.0');
program.parseAsync(process.argv).catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
