import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BusctlError } from './errors.js';
import { DEFAULT_BROKERS, checkBroker, configPath, loadProfiles, resolveBrokers, saveProfiles, splitBrokers } from './profiles.js';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'busctl-profiles-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('profile file', () => {
  it('lives under XDG_CONFIG_HOME or ~/.config unless BUSCTL_CONFIG names it', () => {
    expect(configPath({ BUSCTL_CONFIG: '/x/y.yaml' })).toBe('/x/y.yaml');
    expect(configPath({ XDG_CONFIG_HOME: '/cfg', HOME: '/home/u' })).toBe('/cfg/streambus/busctl.yaml');
    expect(configPath({ HOME: '/home/u' })).toBe('/home/u/.config/streambus/busctl.yaml');
  });

  it('saves and loads profiles; a missing file is empty', () => {
    const path = join(dir, 'nested', 'busctl.yaml');
    expect(loadProfiles(path)).toEqual({ profiles: {} });
    saveProfiles(path, { current: 'a', profiles: { a: { brokers: ['h1:1', 'h2:2'] }, b: { brokers: ['[::1]:9092'] } } });
    expect(loadProfiles(path)).toEqual({ current: 'a', profiles: { a: { brokers: ['h1:1', 'h2:2'] }, b: { brokers: ['[::1]:9092'] } } });
  });

  it('reports a malformed file as a CONFIG error naming it', () => {
    const path = join(dir, 'busctl.yaml');
    for (const text of ['profiles: [1, 2]', 'profiles:\n  x: { brokers: [] }', 'profiles:\n  x: { brokers: ["nohost"] }', ': : :\n  - [', '- just a list']) {
      writeFileSync(path, text);
      let caught: unknown;
      try {
        loadProfiles(path);
      } catch (err) {
        caught = err;
      }
      expect(caught, text).toBeInstanceOf(BusctlError);
      expect((caught as BusctlError).message, text).toContain(path.slice(0, 5));
    }
  });
});

describe('resolveBrokers', () => {
  it('prefers --brokers, then --profile, then BUSCTL_BROKERS, BUSCTL_PROFILE, the current profile, the default', () => {
    const path = join(dir, 'busctl.yaml');
    saveProfiles(path, { current: 'cur', profiles: { cur: { brokers: ['cur:1'] }, named: { brokers: ['named:1'] }, envp: { brokers: ['envp:1'] } } });
    const env = { BUSCTL_CONFIG: path, BUSCTL_BROKERS: 'env:1,env:2', BUSCTL_PROFILE: 'envp' };
    expect(resolveBrokers({ brokers: 'flag:1', profile: 'named' }, env).brokers).toEqual(['flag:1']);
    expect(resolveBrokers({ profile: 'named' }, env).brokers).toEqual(['named:1']);
    expect(resolveBrokers({}, env).brokers).toEqual(['env:1', 'env:2']);
    expect(resolveBrokers({}, { ...env, BUSCTL_BROKERS: '' }).brokers).toEqual(['envp:1']);
    expect(resolveBrokers({}, { BUSCTL_CONFIG: path }).brokers).toEqual(['cur:1']);
    expect(resolveBrokers({}, { BUSCTL_CONFIG: join(dir, 'none.yaml') })).toEqual({ brokers: [...DEFAULT_BROKERS], from: 'default' });
  });

  it('names the known profiles when one is missing', () => {
    const path = join(dir, 'busctl.yaml');
    saveProfiles(path, { profiles: { a: { brokers: ['a:1'] } } });
    expect(() => resolveBrokers({ profile: 'b' }, { BUSCTL_CONFIG: path })).toThrow(/no profile 'b' .*known: a/);
  });

  it('validates host:port lists', () => {
    expect(splitBrokers(' a:1 , b:2 ,')).toEqual(['a:1', 'b:2']);
    expect(checkBroker('[::1]:9092')).toBe('[::1]:9092');
    for (const bad of ['', ',', 'host', 'host:0', 'host:70000', 'a b:1', 'host:port']) expect(() => splitBrokers(bad), bad).toThrow(BusctlError);
  });
});
