// Entry point of the keeper and the workers (forked by the supervisor). The role
// and the configuration come in the first IPC message; argv names the role only so
// that `ps` tells the processes apart.
import { ConfigError, ListenError, SynpoolError } from '../errors.js';
import type { ParentMessage, StartMessage } from './messages.js';

function firstMessage(): Promise<StartMessage> {
  return new Promise((resolve) => {
    const on = (m: ParentMessage): void => {
      if (m.type !== 'start') return;
      process.off('message', on);
      resolve(m);
    };
    process.on('message', on);
  });
}

async function run(): Promise<void> {
  if (process.send === undefined) {
    process.stderr.write('synpool: this is the keeper/worker entry point; run synpool (dist/src/cli.js) instead\n');
    process.exit(2);
  }
  // The supervisor handles the terminal's Ctrl-C and SIGTERM, then tells each child what to do.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => undefined);
  process.on('SIGHUP', () => undefined);
  const start = await firstMessage();
  try {
    if (start.role === 'keeper') {
      const { runKeeper } = await import('./keeper-main.js');
      await runKeeper(start);
    } else {
      const { dropAllCapabilities } = await import('./privileges.js');
      dropAllCapabilities();
      const { runWorker } = await import('./worker-main.js');
      await runWorker(start);
    }
  } catch (err) {
    const who = start.role === 'keeper' ? 'keeper' : `worker ${start.id}`;
    const message = err instanceof ConfigError || err instanceof ListenError ? err.message : err instanceof SynpoolError ? `${err.code}: ${err.message}` : err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`synpool (${who}): ${message}\n`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  }
}

await run();
