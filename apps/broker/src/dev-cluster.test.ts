import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { brokerFlags, DevClusterArgsError, forwardedLine, parseDevClusterArgs, planBrokers, type DevClusterOptions } from './dev-cluster.js';

const ROOT = '/repo';

function parse(argv: string[], env: Record<string, string> = {}): DevClusterOptions {
  const o = parseDevClusterArgs(argv, env, ROOT);
  if (o === 'help') throw new Error('unexpected help');
  return o;
}

describe('dev cluster options', () => {
  it('defaults to 3 brokers on 9092/9192/9292 with data under .streambus/dev', () => {
    const o = parse([]);
    expect(o).toMatchObject({ brokers: 3, host: '127.0.0.1', basePort: 9092, portStep: 100, dataDir: '/repo/.streambus/dev', brokerArgs: [] });
    expect(planBrokers(o).map((b) => [b.clientPort, b.peerPort, b.httpPort, b.dataDir])).toEqual([
      [9092, 9093, 9094, '/repo/.streambus/dev/broker-1'],
      [9192, 9193, 9194, '/repo/.streambus/dev/broker-2'],
      [9292, 9293, 9294, '/repo/.streambus/dev/broker-3'],
    ]);
  });

  it('takes flags over env vars and passes everything after -- to the brokers', () => {
    const o = parse(['--base-port', '20000', '--brokers=2', '--', '--log-level', 'debug'], { STREAMBUS_DEV_BASE_PORT: '30000', STREAMBUS_DEV_PORT_STEP: '10' });
    expect(o).toMatchObject({ basePort: 20000, portStep: 10, brokers: 2, brokerArgs: ['--log-level', 'debug'] });
    const plan = planBrokers(o);
    const flags = brokerFlags(o, plan, plan[1]!);
    expect(flags.join(' ')).toContain('--broker-id 2');
    expect(flags.join(' ')).toContain('--bootstrap-voters 1@127.0.0.1:20001,2@127.0.0.1:20011');
    expect(flags.slice(-2)).toEqual(['--log-level', 'debug']);
  });

  it('makes at most three brokers voters', () => {
    const o = parse(['--brokers', '5']);
    const plan = planBrokers(o);
    const voters = brokerFlags(o, plan, plan[4]!)[brokerFlags(o, plan, plan[4]!).indexOf('--bootstrap-voters') + 1];
    expect(voters).toBe('1@127.0.0.1:9093,2@127.0.0.1:9193,3@127.0.0.1:9293');
  });

  it('rejects bad values with a typed error naming the flag', () => {
    for (const argv of [['--brokers', '0'], ['--brokers', '10'], ['--base-port', 'x'], ['--port-step', '2'], ['--base-port', '65534'], ['--nope'], ['--host', 'a b'], ['positional']]) {
      let caught: unknown;
      try {
        parse(argv);
      } catch (err) {
        caught = err;
      }
      expect(caught, argv.join(' ')).toBeInstanceOf(DevClusterArgsError);
      expect((caught as DevClusterArgsError).code).toBe('DEV_ARGS_INVALID');
    }
    expect(parseDevClusterArgs(['--help'], {}, ROOT)).toBe('help');
  });

  it('plans distinct in-range ports for every accepted combination', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 65_535 }), fc.integer({ min: 3, max: 10_000 }), (brokers, base, step) => {
        let o: DevClusterOptions;
        try {
          o = parse(['--brokers', String(brokers), '--base-port', String(base), '--port-step', String(step)]);
        } catch (err) {
          expect(err).toBeInstanceOf(DevClusterArgsError);
          expect(base + (brokers - 1) * step + 2).toBeGreaterThan(65_535);
          return;
        }
        const ports = planBrokers(o).flatMap((b) => [b.clientPort, b.peerPort, b.httpPort]);
        expect(new Set(ports).size).toBe(ports.length);
        for (const p of ports) expect(p >= 1 && p <= 65_535).toBe(true);
      }),
    );
  });
});

describe('forwarded broker output', () => {
  it('shows warnings, errors and non-JSON lines, hides info and debug', () => {
    expect(forwardedLine('{"level":"info","msg":"broker started"}')).toBeUndefined();
    expect(forwardedLine('{"level":"debug","msg":"x"}')).toBeUndefined();
    expect(forwardedLine('{"level":"warn","msg":"broker session expired; fencing"}')).toBe('WARN broker session expired; fencing');
    expect(forwardedLine('{"level":"fatal","msg":"start failed","err":{"message":"EADDRINUSE"}}')).toBe('FATAL start failed: EADDRINUSE');
    expect(forwardedLine('{"level":50,"msg":"numeric"}')).toBe('level 50 numeric');
    expect(forwardedLine('TypeError: boom')).toBe('TypeError: boom');
    expect(forwardedLine('{not json')).toBe('{not json');
    expect(forwardedLine('   ')).toBeUndefined();
  });
});
