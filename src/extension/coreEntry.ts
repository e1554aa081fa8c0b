/**
 * The entry of the second bundle, `dist/core.js`: the heavy parts (the backends with ssh2,
 * undici and form-data; zip reading and writing; the file walk with its glob and .gitignore
 * libraries). `dist/extension.js` loads it on first use through `loadCore()` (coreBundle.ts),
 * so activation neither reads nor compiles them (the bench measured what that saves). No vscode import.
 */
export { createBackend } from '../core/backends/factory';
// The window's link to the per-user agent that holds the SSH connections (src/agent).
export { AgentClient } from '../core/agent/agentClient';
export { WsClient } from '../core/backends/ws/wsClient';
export { extractZip, listZip, openZipEntry } from '../core/transfer/zip';
export { selectFiles, summarizeSelection } from '../core/fileSelection';
// Add Profile / Test Connection: the SSH probe (ssh2 loads only when it runs) and ~/.ssh/config hosts.
export { testSshProfile } from '../core/backends/slurm/clusterProbe';
export { listSshConfigHosts } from '../core/backends/slurm/sshConfigHosts';
export { parseDestination } from '../core/backends/slurm/sshTarget';
