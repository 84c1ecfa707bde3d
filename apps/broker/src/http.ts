import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';
import { type Logger } from 'pino';
import { PROMETHEUS_CONTENT_TYPE, type MetricsRegistry } from './metrics.js';

/** What /readyz reports; `reason` is shown to operators and probes when not ready. */
export type Readiness = { readonly ready: true } | { readonly ready: false; readonly reason: string };

export interface OpsHttpOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: MetricsRegistry;
  readonly readiness: () => Readiness;
  readonly logger: Logger;
  /** Whole-request bound; probes and scrapes are tiny, a slow client is cut off. */
  readonly requestTimeoutMs?: number;
  /** Idle keep-alive connections are closed after this long. */
  readonly keepAliveTimeoutMs?: number;
  /** Connections open at once; the rest are refused so probes cannot exhaust memory. */
  readonly connectionsMax?: number;
}

const REQUEST_TIMEOUT_MS_DEFAULT = 10_000;
const KEEP_ALIVE_TIMEOUT_MS_DEFAULT = 5_000;
const CONNECTIONS_MAX_DEFAULT = 256;

/**
 * The operations HTTP server: /metrics (Prometheus text), /healthz (the process is up and
 * its event loop turns) and /readyz (the broker's readiness predicate). Nothing on this
 * server touches the data path, so it answers even when the broker is overloaded.
 */
export class OpsHttpServer {
  private readonly server: Server;
  private boundPort: number | undefined;

  constructor(private readonly options: OpsHttpOptions) {
    this.server = createServer(
      {
        requestTimeout: options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS_DEFAULT,
        headersTimeout: Math.min(options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS_DEFAULT, 60_000),
        keepAliveTimeout: options.keepAliveTimeoutMs ?? KEEP_ALIVE_TIMEOUT_MS_DEFAULT,
        maxHeaderSize: 16 * 1024,
      },
      (req, res) => this.handle(req, res),
    );
    this.server.maxConnections = options.connectionsMax ?? CONNECTIONS_MAX_DEFAULT;
  }

  /** Binds the port; resolves with the bound port (useful with port 0). */
  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      this.server.once('error', onError);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    this.server.on('error', (error) => this.options.logger.error({ err: error }, 'ops http server error'));
    this.boundPort = (this.server.address() as AddressInfo).port;
    return this.boundPort;
  }

  get port(): number | undefined {
    return this.boundPort;
  }

  /** Stops accepting connections, lets in-flight responses finish, closes idle sockets. */
  async close(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    await closed;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    try {
      this.route(req, res);
    } catch (error) {
      // A bug in a collector must not take the broker down; the scrape just fails.
      this.options.logger.error({ err: error, path: req.url }, 'ops http handler failed');
      if (!res.headersSent) sendJson(res, 500, { status: 'error', reason: 'internal error' });
      else res.destroy();
    }
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      sendJson(res, 405, { status: 'error', reason: `method ${req.method ?? ''} not allowed` });
      return;
    }
    switch (path) {
      case '/metrics': {
        const body = this.options.registry.render();
        res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
        return;
      }
      case '/healthz':
        sendJson(res, 200, { status: 'ok' });
        return;
      case '/readyz': {
        const readiness = this.options.readiness();
        if (readiness.ready) sendJson(res, 200, { status: 'ready' });
        else sendJson(res, 503, { status: 'not ready', reason: readiness.reason });
        return;
      }
      default:
        sendJson(res, 404, { status: 'error', reason: 'not found; try /metrics, /healthz or /readyz' });
    }
  }
}

function sendJson(res: ServerResponse, status: number, body: Record<string, string>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}
