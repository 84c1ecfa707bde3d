// Parsing of flag values and produce input: pure functions, each failure a USAGE or INPUT
// error that names the bad text.
import { BusctlError, usageError } from './errors.js';

export type StartSpec = { kind: 'earliest' } | { kind: 'latest' } | { kind: 'offset'; offset: number } | { kind: 'timestamp'; timestamp: number };

/** `earliest`, `latest`, an offset, `-N` (N before the end), or `@<ms since epoch | ISO 8601>`. */
export function parseStart(text: string): StartSpec {
  const t = text.trim();
  if (t === 'earliest' || t === 'beginning') return { kind: 'earliest' };
  if (t === 'latest' || t === 'end') return { kind: 'latest' };
  if (/^\d+$/.test(t)) {
    const offset = Number(t);
    if (!Number.isSafeInteger(offset)) throw usageError(`--from offset ${t} is beyond 2^53-1`);
    return { kind: 'offset', offset };
  }
  if (t.startsWith('@')) {
    const rest = t.slice(1);
    const timestamp = /^\d+$/.test(rest) ? Number(rest) : Date.parse(rest);
    if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw usageError(`--from @${rest}: expected milliseconds since the epoch or an ISO 8601 time`);
    return { kind: 'timestamp', timestamp };
  }
  throw usageError(`--from must be earliest, latest, an offset or @<timestamp-ms|ISO time>, got '${text}'`);
}

/** `k=v` pairs (repeatable flags); the first '=' splits, so values may hold '='. */
export function parsePairs(values: readonly string[], flag: string): { key: string; value: string }[] {
  return values.map((text) => {
    const i = text.indexOf('=');
    if (i <= 0) throw usageError(`${flag} expects key=value, got '${text}'`);
    return { key: text.slice(0, i), value: text.slice(i + 1) };
  });
}

export function pairsToRecord(values: readonly string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { key, value } of parsePairs(values, flag)) out[key] = value;
  return out;
}

export interface LineMessage {
  key: string | null;
  value: string;
}

/**
 * One input line as a record: without a separator the whole line is the value; with one,
 * the text before its first occurrence is the key. A line without the separator is an
 * INPUT error (silently keyless records would land on random partitions).
 */
export function parseLine(line: string, keySeparator: string | undefined, lineNumber: number): LineMessage {
  if (keySeparator === undefined || keySeparator === '') return { key: null, value: line };
  const i = line.indexOf(keySeparator);
  if (i < 0) throw new BusctlError('INPUT', `line ${lineNumber} has no key separator '${keySeparator}'`);
  return { key: line.slice(0, i), value: line.slice(i + keySeparator.length) };
}

/** Decodes C-style escapes typed on a shell (`\t`, `\n`) in separators. */
export function unescapeSeparator(text: string): string {
  return text.replace(/\\([tn0\\])/g, (_, c: string) => ({ t: '\t', n: '\n', '0': '\0', '\\': '\\' })[c] ?? c);
}

export function parseAcks(text: string): 0 | 1 | 'all' {
  if (text === '0') return 0;
  if (text === '1') return 1;
  if (text === 'all' || text === '-1') return 'all';
  throw usageError(`--acks must be 0, 1 or all, got '${text}'`);
}

export interface JsonRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: Record<string, string | null>;
  encoding: 'utf8' | 'base64';
}

function decode(b: Buffer | null, binary: boolean): string | null {
  if (b === null) return null;
  return binary ? b.toString('base64') : b.toString('utf8');
}

/** The `consume --format json` line: one object per record, so `| jq` works. */
export function toJsonRecord(
  r: { topic: string; partition: number; offset: number; timestamp: number; key: Buffer | null; value: Buffer | null; headers: readonly { key: string; value: Buffer | null }[] },
  binary: boolean,
): JsonRecord {
  const headers: Record<string, string | null> = {};
  for (const h of r.headers) headers[h.key] = decode(h.value, binary);
  return { topic: r.topic, partition: r.partition, offset: r.offset, timestamp: r.timestamp, key: decode(r.key, binary), value: decode(r.value, binary), headers, encoding: binary ? 'base64' : 'utf8' };
}
