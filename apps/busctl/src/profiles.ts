// Named broker lists in ~/.config/streambus/busctl.yaml (or $BUSCTL_CONFIG):
//   current: dev
//   profiles: { dev: { brokers: [127.0.0.1:9092] }, prod: { brokers: [...] } }
// Broker resolution: --brokers > --profile > BUSCTL_BROKERS > BUSCTL_PROFILE > current > default.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { BusctlError, usageError } from './errors.js';

export const DEFAULT_BROKERS: readonly string[] = ['127.0.0.1:9092'];

export interface Profile {
  brokers: string[];
}

export interface ProfileFile {
  current?: string;
  profiles: Record<string, Profile>;
}

export function configPath(env: Readonly<Record<string, string | undefined>>): string {
  const explicit = env.BUSCTL_CONFIG;
  if (explicit !== undefined && explicit !== '') return explicit;
  const base = env.XDG_CONFIG_HOME !== undefined && env.XDG_CONFIG_HOME !== '' ? env.XDG_CONFIG_HOME : join(env.HOME ?? homedir(), '.config');
  return join(base, 'streambus', 'busctl.yaml');
}

/** A missing file is an empty one; a malformed file is a CONFIG error naming the file. */
export function loadProfiles(path: string): ProfileFile {
  if (!existsSync(path)) return { profiles: {} };
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new BusctlError('CONFIG', `cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (doc === null || doc === undefined) return { profiles: {} };
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new BusctlError('CONFIG', `${path}: expected a mapping with 'profiles'`);
  const raw = doc as { current?: unknown; profiles?: unknown };
  const profiles: Record<string, Profile> = {};
  if (raw.profiles !== undefined && raw.profiles !== null) {
    if (typeof raw.profiles !== 'object' || Array.isArray(raw.profiles)) throw new BusctlError('CONFIG', `${path}: 'profiles' must be a mapping of name to { brokers: [...] }`);
    for (const [name, value] of Object.entries(raw.profiles as Record<string, unknown>)) {
      const brokers = (value as { brokers?: unknown } | null)?.brokers;
      const list = typeof brokers === 'string' ? splitBrokers(brokers) : brokers;
      if (!Array.isArray(list) || list.length === 0 || !list.every((b) => typeof b === 'string')) {
        throw new BusctlError('CONFIG', `${path}: profile '${name}' needs brokers: a list of host:port`);
      }
      try {
        profiles[name] = { brokers: list.map(checkBroker) };
      } catch (err) {
        throw new BusctlError('CONFIG', `${path}: profile '${name}': ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
    }
  }
  if (raw.current !== undefined && typeof raw.current !== 'string') throw new BusctlError('CONFIG', `${path}: 'current' must be a profile name`);
  return raw.current === undefined ? { profiles } : { current: raw.current, profiles };
}

/** Written to a temp file and renamed, so a crash never leaves half a config. */
export function saveProfiles(path: string, file: ProfileFile): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.tmp-${process.pid}`;
    writeFileSync(tmp, toYaml(file), { mode: 0o600 });
    renameSync(tmp, path);
  } catch (err) {
    throw new BusctlError('CONFIG', `cannot write ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** host:port with a port in 1..65535 (IPv6 as [addr]:port). */
export function checkBroker(text: string): string {
  const address = text.trim();
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/.exec(address);
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || !(port >= 1 && port <= 65_535)) throw usageError(`broker address must be host:port, got '${text}'`);
  return address;
}

export function splitBrokers(text: string): string[] {
  const parts = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (parts.length === 0) throw usageError('the broker list is empty');
  return parts.map(checkBroker);
}

export interface BrokerSource {
  brokers: string[];
  /** Where the list came from, for error messages and `profile list`. */
  from: string;
}

export function resolveBrokers(flags: { brokers?: string | undefined; profile?: string | undefined }, env: Readonly<Record<string, string | undefined>>): BrokerSource {
  if (flags.brokers !== undefined) return { brokers: splitBrokers(flags.brokers), from: '--brokers' };
  const path = configPath(env);
  const byName = (name: string, from: string): BrokerSource => {
    const file = loadProfiles(path);
    const p = file.profiles[name];
    if (p === undefined) {
      const known = Object.keys(file.profiles);
      throw usageError(`no profile '${name}' in ${path}${known.length > 0 ? ` (known: ${known.join(', ')})` : ''}; add one with 'busctl profile set ${name} --brokers host:port'`);
    }
    return { brokers: p.brokers, from };
  };
  if (flags.profile !== undefined) return byName(flags.profile, `profile ${flags.profile}`);
  const envBrokers = env.BUSCTL_BROKERS;
  if (envBrokers !== undefined && envBrokers !== '') return { brokers: splitBrokers(envBrokers), from: 'BUSCTL_BROKERS' };
  const envProfile = env.BUSCTL_PROFILE;
  if (envProfile !== undefined && envProfile !== '') return byName(envProfile, `profile ${envProfile} (BUSCTL_PROFILE)`);
  const current = loadProfiles(path).current;
  if (current !== undefined) return byName(current, `profile ${current} (current)`);
  return { brokers: [...DEFAULT_BROKERS], from: 'default' };
}
