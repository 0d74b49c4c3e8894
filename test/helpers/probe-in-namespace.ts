import { Writable } from 'node:stream';
import { enterNamespace, type Topology } from '../../bench/topology/index.js';
import { runProbe } from '../../src/commands/probe.js';

function sink(): { stream: Writable; text: () => string } {
  let text = '';
  return {
    stream: new Writable({
      write(chunk, _enc, cb) {
        text += String(chunk);
        cb();
      },
    }),
    text: () => text,
  };
}

/** Runs `synpool probe ARGS` in this process, inside the topology's client namespace, capturing its output. */
export async function probeInClient(topo: Topology, args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = sink();
  const err = sink();
  const leave = enterNamespace(topo.netnsPath('client'));
  try {
    const code = await runProbe(args, out.stream, err.stream);
    return { code, out: out.text(), err: err.text() };
  } finally {
    leave();
  }
}
