import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { OpsHttpServer, type Readiness } from './http.js';
import { createRootLogger } from './log.js';
import { MetricsRegistry, PROMETHEUS_CONTENT_TYPE } from './metrics.js';

const servers: OpsHttpServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

async function start(readiness: () => Readiness, registry = new MetricsRegistry({ labelSetsMax: 10 })): Promise<number> {
  const server = new OpsHttpServer({ host: '127.0.0.1', port: 0, registry, readiness, logger: createRootLogger({ brokerId: 0, level: 'silent' }) });
  servers.push(server);
  return server.listen();
}

function call(port: number, method: string, path: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('ops http server', () => {
  it('answers /readyz from the predicate, with the reason when not ready', async () => {
    let readiness: Readiness = { ready: false, reason: 'metadata not available' };
    const port = await start(() => readiness);
    const notReady = await call(port, 'GET', '/readyz');
    expect(notReady.status).toBe(503);
    expect(JSON.parse(notReady.body)).toEqual({ status: 'not ready', reason: 'metadata not available' });
    readiness = { ready: true };
    expect((await call(port, 'GET', '/readyz')).status).toBe(200);
  });

  it('serves /metrics as Prometheus text and ignores query strings', async () => {
    const registry = new MetricsRegistry({ labelSetsMax: 10 });
    registry.gauge({ name: 'answer', help: 'a' }).set(42);
    const port = await start(() => ({ ready: true }), registry);
    const res = await call(port, 'GET', '/metrics?x=1');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(PROMETHEUS_CONTENT_TYPE);
    expect(res.body).toContain('\nanswer 42\n');
    expect((await call(port, 'HEAD', '/metrics')).body).toBe('');
  });

  it('answers unknown paths 404 and other methods 405', async () => {
    const port = await start(() => ({ ready: true }));
    expect((await call(port, 'GET', '/nope')).status).toBe(404);
    const post = await call(port, 'POST', '/healthz');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
  });

  it('answers 500 instead of crashing when a collector throws', async () => {
    const registry = new MetricsRegistry({ labelSetsMax: 10 });
    registry.addCollector(() => {
      throw new Error('collector bug');
    });
    const port = await start(() => ({ ready: true }), registry);
    expect((await call(port, 'GET', '/metrics')).status).toBe(500);
    expect((await call(port, 'GET', '/healthz')).status).toBe(200);
  });
});
