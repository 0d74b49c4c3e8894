// Command line of https-timeline.ts (docs/benchmarks.md, *Where the milliseconds go*):
//
//   node dist/bench/own-time/https-timeline-cli.js --client C.pcap [--server S.pcap] --proxy-port N --upstream-port N [--json]
//
// C.pcap: `tcpdump -i any -w` in the client namespace (loopback and link); S.pcap: the same in the
// server namespace. Prints one row per request and the medians, in ms.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { intFlag } from '../int-flag.js';
import { tcpSegmentsOf, type CapturedSegment } from './captured-segment.js';
import { httpsTimelines, median, TIMELINE_COLUMNS } from './https-timeline.js';
import { readPcap } from './pcap-reader.js';

function segmentsOf(file: string): CapturedSegment[] {
  return tcpSegmentsOf(readPcap(readFileSync(file))).segments;
}

function main(argv: string[]): void {
  const { values } = parseArgs({
    args: argv,
    options: {
      client: { type: 'string' },
      server: { type: 'string' },
      'proxy-port': { type: 'string' },
      'upstream-port': { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (values.client === undefined || values['proxy-port'] === undefined || values['upstream-port'] === undefined) {
    process.stderr.write('usage: https-timeline --client C.pcap [--server S.pcap] --proxy-port N --upstream-port N [--json]\n');
    process.exit(2);
  }
  const o = { proxyPort: intFlag('--proxy-port', values['proxy-port'], 1, 65535), upstreamPort: intFlag('--upstream-port', values['upstream-port'], 1, 65535) };
  const rows = httpsTimelines(segmentsOf(values.client), values.server === undefined ? undefined : segmentsOf(values.server), o);
  if (values.json === true) {
    process.stdout.write(JSON.stringify(rows, null, 1) + '\n');
    return;
  }
  const cell = (v: number | undefined): string => (v === undefined ? '–' : v.toFixed(2)).padStart(11);
  process.stdout.write(['conn ', ...TIMELINE_COLUMNS.map((c) => c.slice(0, 11).padStart(11))].join(' ') + '\n');
  for (const r of rows) process.stdout.write([r.connection.padEnd(5), ...TIMELINE_COLUMNS.map((c) => cell(r[c]))].join(' ') + '\n');
  const med = TIMELINE_COLUMNS.map((c) => cell(median(rows.map((r) => r[c]).filter((v): v is number => v !== undefined))));
  process.stdout.write(['p50  ', ...med].join(' ') + ` (${rows.length} requests, ms)\n`);
}

main(process.argv.slice(2));
