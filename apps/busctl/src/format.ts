// Output rendering for --format table|json|yaml. JSON is what scripts parse: it holds every
// field, with numbers as numbers; tables are for people and may abbreviate.
import { stringify as toYaml } from 'yaml';

export const FORMATS = ['table', 'json', 'yaml'] as const;
export type Format = (typeof FORMATS)[number];

export type Cell = string | number | boolean | null | undefined | readonly (string | number)[];

function cellText(cell: Cell): string {
  if (cell === null || cell === undefined) return '-';
  if (Array.isArray(cell)) return cell.join(',');
  return String(cell);
}

/** A plain text table: header row, columns padded to the widest cell, two spaces apart. */
export function renderTable(headers: readonly string[], rows: readonly (readonly Cell[])[], bold: (s: string) => string = (s) => s): string {
  const text = rows.map((row) => headers.map((_, i) => cellText(row[i])));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const head = bold(line(headers.map((h) => h.toUpperCase())));
  return [head, ...text.map(line)].join('\n') + '\n';
}

/** `key: value` lines for one object in table mode. */
export function renderFields(fields: readonly (readonly [string, Cell])[]): string {
  const width = Math.max(0, ...fields.map(([k]) => k.length));
  return fields.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${cellText(v)}`).join('\n') + '\n';
}

/** The document in json or yaml; table mode calls `table()` for the human form. */
export function render(format: Format, data: unknown, table: () => string): string {
  switch (format) {
    case 'json':
      return JSON.stringify(data, null, 2) + '\n';
    case 'yaml':
      return toYaml(data);
    case 'table':
      return table();
  }
}
