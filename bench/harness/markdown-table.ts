// Markdown tables for stdout and docs/benchmarks.md.

export type Align = 'left' | 'right';

export interface Column<Row> {
  header: string;
  align?: Align;
  cell(row: Row): string;
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** A GitHub-flavoured markdown table, padded so it also reads as plain text. */
export function formatMarkdownTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string {
  const cells = rows.map((r) => columns.map((c) => escapeCell(c.cell(r))));
  const headers = columns.map((c) => escapeCell(c.header));
  const widths = columns.map((_, i) => Math.max(3, headers[i]!.length, ...cells.map((r) => r[i]!.length)));
  const pad = (text: string, i: number): string => (columns[i]!.align === 'right' ? text.padStart(widths[i]!) : text.padEnd(widths[i]!));
  const line = (parts: string[]): string => `| ${parts.join(' | ')} |`;
  const rule = columns.map((c, i) => (c.align === 'right' ? `${'-'.repeat(widths[i]! - 1)}:` : '-'.repeat(widths[i]!)));
  return [line(headers.map(pad)), line(rule), ...cells.map((r) => line(r.map(pad)))].join('\n');
}

/** A number for a table cell: fixed digits, '–' when there is none. */
export function fmt(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  return value.toFixed(digits);
}

export function fmtPercent(ratio: number | null | undefined, digits = 1): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return '–';
  return `${(ratio * 100).toFixed(digits)} %`;
}
