// The CLI's seam to the outside world: streams, environment and terminal facts. Tests pass a
// captured one; cli.ts passes the process's.
import { type Readable } from 'node:stream';

export interface Io {
  /** Data: tables, JSON, YAML, consumed records. Resolves when the stream accepted the text (backpressure). */
  readonly stdout: (text: string) => Promise<void>;
  /** Errors always; progress and logs only when `stderrIsTty` (see `progress`). */
  readonly stderr: (text: string) => void;
  readonly stdin: Readable;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdoutIsTty: boolean;
  readonly stderrIsTty: boolean;
  /** Aborted on SIGINT/SIGTERM or when stdout's reader went away (EPIPE). */
  readonly signal: AbortSignal;
}

/** Whether to color output on a stream (https://no-color.org). */
export function useColor(io: Io, isTty: boolean): boolean {
  const noColor = io.env.NO_COLOR;
  return isTty && (noColor === undefined || noColor === '') && io.env.TERM !== 'dumb';
}

export interface Palette {
  readonly bold: (s: string) => string;
  readonly green: (s: string) => string;
  readonly red: (s: string) => string;
  readonly yellow: (s: string) => string;
  readonly dim: (s: string) => string;
}

const ansi = (open: number, close: number) => (s: string) => `\u001b[${open}m${s}\u001b[${close}m`;
const plain = (s: string): string => s;

export function palette(enabled: boolean): Palette {
  if (!enabled) return { bold: plain, green: plain, red: plain, yellow: plain, dim: plain };
  return { bold: ansi(1, 22), green: ansi(32, 39), red: ansi(31, 39), yellow: ansi(33, 39), dim: ansi(2, 22) };
}

/**
 * Writes to a Writable honouring backpressure; an EPIPE (reader closed, e.g. `| head`)
 * aborts `onGone` instead of crashing.
 */
export function streamWriter(stream: NodeJS.WritableStream, onGone: () => void): (text: string) => Promise<void> {
  let gone = false;
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') {
      gone = true;
      onGone();
      return;
    }
    throw err;
  });
  return (text: string) => {
    if (gone || text === '') return Promise.resolve();
    return new Promise<void>((resolve) => {
      const ok = stream.write(text, () => resolve());
      if (ok) resolve();
    });
  };
}
