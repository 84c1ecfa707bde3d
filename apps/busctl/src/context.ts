// What every command handler gets: the io seam, the global flags, and a StreamBus client
// built from the resolved broker list (closed by the caller after the handler).
import { StreamBus } from '@streambus/client';
import { type Format } from './format.js';
import { palette, useColor, type Io, type Palette } from './io.js';
import { resolveBrokers, type BrokerSource } from './profiles.js';

export interface GlobalFlags {
  brokers?: string | undefined;
  profile?: string | undefined;
  format: Format;
  timeoutMs: number;
}

export class CommandContext {
  private client: StreamBus | undefined;
  private source: BrokerSource | undefined;
  /** Set by handlers that finish without an exception but must fail (e.g. health). */
  exitCode = 0;

  constructor(
    readonly io: Io,
    readonly flags: GlobalFlags,
  ) {}

  get format(): Format {
    return this.flags.format;
  }

  /** Colors for stdout (tables); plain when piped or NO_COLOR is set. */
  get colors(): Palette {
    return palette(useColor(this.io, this.io.stdoutIsTty));
  }

  get brokerSource(): BrokerSource {
    this.source ??= resolveBrokers(this.flags, this.io.env);
    return this.source;
  }

  /** The bootstrap list, or the one that would be used when resolution itself failed. */
  brokersForMessages(): string[] {
    return this.source?.brokers ?? [];
  }

  get bus(): StreamBus {
    this.client ??= new StreamBus({ brokers: this.brokerSource.brokers, requestTimeoutMs: this.flags.timeoutMs, retryBackoffMs: 100, retryBackoffMaxMs: 500 });
    return this.client;
  }

  /** Prints a progress or log line, only when stderr is a terminal (data stays on stdout). */
  progress(text: string): void {
    if (this.io.stderrIsTty) this.io.stderr(text.endsWith('\n') || text.endsWith('\r') ? text : `${text}\n`);
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    if (c !== undefined) await c.close();
  }
}
