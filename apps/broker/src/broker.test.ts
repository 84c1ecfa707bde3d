import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Broker, type BrokerComponent, type BrokerServices, type MetadataComponent, type RpcComponent } from './broker.js';
import { defaultConfig } from './config.js';
import { type Readiness } from './http.js';
import { createRootLogger } from './log.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function config(extra: string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), 'streambus-broker-'));
  dirs.push(dir);
  return defaultConfig(['--data-dir', join(dir, 'data'), '--http-host', '127.0.0.1', '--http-port', '0', '--shutdown-timeout-ms', '2000', ...extra]);
}

const silent = createRootLogger({ brokerId: 0, level: 'silent' });

function component(name: string, events: string[], failStart = false): BrokerComponent {
  return {
    name,
    start: async () => {
      events.push(`start ${name}`);
      if (failStart) throw new Error(`${name} cannot start`);
    },
    stop: async () => void events.push(`stop ${name}`),
  };
}

function fakeServices(events: string[], options: { metadataReady?: () => Readiness; failStart?: string } = {}): BrokerServices {
  const metadata: MetadataComponent = {
    ...component('metadata', events, options.failStart === 'metadata'),
    readiness: options.metadataReady ?? (() => ({ ready: true })),
  };
  const rpc: RpcComponent = {
    ...component('rpc', events, options.failStart === 'rpc'),
    drain: async () => void events.push('drain rpc'),
    boundPorts: () => ({ client: 19092, peer: 19093 }),
  };
  return { storage: component('storage', events, options.failStart === 'storage'), metadata, replication: component('replication', events), rpc };
}

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, body: await response.text() };
}

describe('Broker without a data path', () => {
  it('serves /healthz and /metrics and reports /readyz 503 "metadata not available"', async () => {
    const broker = new Broker({ config: config(), logger: silent });
    const addresses = await broker.start();
    expect(addresses.client).toBeNull();
    expect(await get(addresses.http.port, '/healthz')).toEqual({ status: 200, body: '{"status":"ok"}' });
    expect(await get(addresses.http.port, '/readyz')).toEqual({ status: 503, body: '{"status":"not ready","reason":"metadata not available"}' });
    expect((await get(addresses.http.port, '/metrics')).body).toContain('streambus_broker_ready 0');
    await broker.stop();
    expect(broker.currentState).toBe('stopped');
    await expect(fetch(`http://127.0.0.1:${addresses.http.port}/healthz`)).rejects.toThrow();
  });

  it('cannot be started twice', async () => {
    const broker = new Broker({ config: config(), logger: silent });
    await broker.start();
    expect(() => broker.start()).toThrow(/cannot start/);
    await broker.stop();
  });
});

describe('Broker with services', () => {
  it('starts components in order and stops them drain-first, storage last', async () => {
    const events: string[] = [];
    const cfg = config();
    const broker = new Broker({
      config: cfg,
      logger: silent,
      services: (context) => {
        events.push(`factory ${context.dataDir === join(cfg.dataDir) ? 'ok' : context.dataDir}`);
        return fakeServices(events);
      },
    });
    const addresses = await broker.start();
    expect(addresses.client).toEqual({ host: '0.0.0.0', port: 19092 });
    expect(broker.readiness()).toEqual({ ready: true });
    expect((await get(addresses.http.port, '/readyz')).status).toBe(200);
    await broker.stop();
    expect(events).toEqual([
      'factory ok',
      'start storage',
      'start metadata',
      'start replication',
      'start rpc',
      'drain rpc',
      'stop rpc',
      'stop replication',
      'stop metadata',
      'stop storage',
    ]);
    expect(broker.readiness()).toEqual({ ready: false, reason: 'shutting down' });
  });

  it('passes on the metadata readiness reason', async () => {
    const broker = new Broker({ config: config(), logger: silent, services: () => fakeServices([], { metadataReady: () => ({ ready: false, reason: 'catching up: applied 10 of 40' }) }) });
    await broker.start();
    expect(broker.readiness()).toEqual({ ready: false, reason: 'catching up: applied 10 of 40' });
    await broker.stop();
  });

  it('on a failed start, stops what started, releases the data dir and reports the cause', async () => {
    const events: string[] = [];
    const cfg = config();
    const broker = new Broker({ config: cfg, logger: silent, services: () => fakeServices(events, { failStart: 'replication' }) });
    const failing = new Broker({ config: cfg, logger: silent, services: () => fakeServices(events, { failStart: 'metadata' }) });
    await expect(failing.start()).rejects.toThrow(/metadata cannot start/);
    expect(events).toEqual(['start storage', 'start metadata', 'stop storage']);
    expect(failing.readiness()).toEqual({ ready: false, reason: 'start failed' });
    expect(existsSync(join(cfg.dataDir, '.lock'))).toBe(false);
    // The data dir is free again: another broker can take it.
    await broker.start();
    await broker.stop();
  });

  it('stop during start waits for the start and then stops cleanly', async () => {
    const events: string[] = [];
    const broker = new Broker({ config: config(), logger: silent, services: () => fakeServices(events) });
    const starting = broker.start();
    const stopping = broker.stop();
    await starting;
    await stopping;
    expect(events.at(-1)).toBe('stop storage');
  });

  it('runs every stop step even when one fails, then reports the failure', async () => {
    const events: string[] = [];
    const cfg = config();
    const services = fakeServices(events);
    const broker = new Broker({
      config: cfg,
      logger: silent,
      services: () => ({ ...services, replication: { name: 'replication', start: async () => undefined, stop: async () => Promise.reject(new Error('fetcher stuck')) } }),
    });
    await broker.start();
    await expect(broker.stop()).rejects.toThrow(/1 stop step\(s\) failed/);
    expect(events).toContain('stop storage');
    expect(existsSync(join(cfg.dataDir, '.lock'))).toBe(false);
  });
});
