// tcpdump inside one namespace of a topology, writing a pcap file, on every
// interface of that namespace at once (`-i any`): the loopback (client ↔
// proxy) and the link toward the upstream get their timestamps from the same
// clock in the same process, so differences across the two sides are
// consistent. Started before a measurement, stopped (SIGINT: tcpdump flushes)
// after it, then read back.
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { captureStderr, describeExit, hasExited, stderrTail, stopChild } from '../topology/child-output.js';
import type { Side, Topology } from '../topology/index.js';
import { tcpSegmentsOf, type CapturedSegment } from './captured-segment.js';
import { readPcap } from './pcap-reader.js';

const READY_DEADLINE_MS = 5_000;
/** After the last request: let the final segments (FIN, ACK) reach the file. */
const SETTLE_MS = 200;

export interface CaptureResult {
  segments: CapturedSegment[];
  /** tcpdump's own count of packets the kernel dropped before it could read them (a good capture says 0). */
  droppedByKernel: number | undefined;
  frames: number;
  skipped: number;
  truncated: number;
  /** Where the pcap was kept (--keep-pcap), for a look with `tcpdump -r FILE -tt -nn`. */
  kept: string | undefined;
}

export interface Capture {
  readonly file: string;
  /** Stops tcpdump and reads the file; with `keepDir`, copies the pcap there first (returned in `kept`). */
  stop(keepDir?: string): Promise<CaptureResult>;
  /** Stops tcpdump without reading anything (cleanup on failure). */
  abort(): Promise<void>;
}

let counter = 0;

/** Starts `tcpdump -i any` in `side` with the BPF `filter`; resolves once it is capturing. */
export async function startCapture(topo: Topology, side: Side, filter: string): Promise<Capture> {
  const file = join(topo.dir, `own-time-${counter++}.pcap`);
  // --immediate-mode: without it the kernel hands packets over in blocks (TPACKET_V3) that retire only
  // when full or after libpcap's timeout, and whatever sits in the last block when tcpdump is stopped
  // is lost (seen: the last requests of a run missing from the file). -U: write each packet as it comes;
  // -n: no name lookups; nanosecond timestamps; -Z root: keep writing as root into the topology's
  // root-owned directory. -s 4096 with a 64 MiB buffer: in immediate mode the kernel ring holds
  // buffer / snaplen frames, and with the default snaplen (256 KiB) 16 MiB was 64 frames: a burst of
  // 32 requests through five contenders overflowed it (thousands of drops). The segments here are
  // small (requests and answers of a few hundred bytes); a longer one would be cut, and the decoder,
  // which checks the IP total length, counts it as truncated (reported as a problem).
  const args = ['-i', 'any', '-n', '-U', '--immediate-mode', '-Z', 'root', '-s', '4096', '-B', '65536', '--time-stamp-precision=nano', '-w', file, filter];
  const child = topo.spawn(side, 'tcpdump', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  captureStderr(child);
  await waitListening(child, `tcpdump ${args.join(' ')}`);
  let stopped = false;
  const end = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await stopChild(child, 3_000, 'SIGINT');
  };
  return {
    file,
    async stop(keepDir?: string) {
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      await end();
      const stats = stderrTail(child);
      const dropped = /(\d+) packets? dropped by kernel/.exec(stats);
      let kept: string | undefined;
      if (keepDir !== undefined) {
        mkdirSync(keepDir, { recursive: true });
        kept = join(keepDir, `${topo.name}-${basename(file)}`);
        copyFileSync(file, kept);
      }
      try {
        const frames = readPcap(readFileSync(file));
        const { segments, skipped, truncated } = tcpSegmentsOf(frames);
        return { segments, droppedByKernel: dropped ? Number(dropped[1]) : undefined, frames: frames.length, skipped, truncated, kept };
      } finally {
        rmSync(file, { force: true });
      }
    },
    async abort() {
      await end();
      rmSync(file, { force: true });
    },
  };
}

/** tcpdump says "listening on …" on stderr once its socket is bound and the filter attached. */
async function waitListening(child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + READY_DEADLINE_MS;
  while (Date.now() < deadline) {
    if (hasExited(child)) throw new Error(`${what} ${describeExit(child)}`);
    if (/listening on/.test(stderrTail(child))) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  await stopChild(child, 1_000);
  throw new Error(`${what}: not capturing within ${READY_DEADLINE_MS} ms; stderr: ${stderrTail(child)}`);
}
