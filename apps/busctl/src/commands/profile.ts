// `busctl profile list|set|use|delete`.
import { type CommandContext } from '../context.js';
import { usageError } from '../errors.js';
import { render, renderTable } from '../format.js';
import { configPath, loadProfiles, saveProfiles, splitBrokers } from '../profiles.js';

export async function profileList(ctx: CommandContext): Promise<void> {
  const path = configPath(ctx.io.env);
  const file = loadProfiles(path);
  const rows = Object.entries(file.profiles).map(([name, p]) => ({ name, brokers: p.brokers, current: name === file.current }));
  await ctx.io.stdout(
    render(ctx.format, { path, current: file.current ?? null, profiles: rows }, () =>
      rows.length === 0 ? `no profiles in ${path}\n` : renderTable(['', 'name', 'brokers'], rows.map((r) => [r.current ? '*' : '', r.name, r.brokers]), ctx.colors.bold),
    ),
  );
}

const NAME = /^[A-Za-z0-9._-]{1,64}$/;

export async function profileSet(ctx: CommandContext, args: { name: string; profileBrokers: string; use: boolean }): Promise<void> {
  if (!NAME.test(args.name)) throw usageError(`profile names are 1-64 letters, digits, '.', '_' or '-', got '${args.name}'`);
  const path = configPath(ctx.io.env);
  const file = loadProfiles(path);
  file.profiles[args.name] = { brokers: splitBrokers(args.profileBrokers) };
  if (args.use || file.current === undefined) file.current = args.name;
  saveProfiles(path, file);
  await ctx.io.stdout(render(ctx.format, { path, name: args.name, brokers: file.profiles[args.name]?.brokers, current: file.current }, () => `saved profile ${args.name} in ${path}\n`));
}

export async function profileUse(ctx: CommandContext, args: { name: string }): Promise<void> {
  const path = configPath(ctx.io.env);
  const file = loadProfiles(path);
  if (file.profiles[args.name] === undefined) throw usageError(`no profile '${args.name}' in ${path}`);
  file.current = args.name;
  saveProfiles(path, file);
  await ctx.io.stdout(render(ctx.format, { path, current: args.name }, () => `using profile ${args.name}\n`));
}

export async function profileDelete(ctx: CommandContext, args: { name: string }): Promise<void> {
  const path = configPath(ctx.io.env);
  const file = loadProfiles(path);
  if (file.profiles[args.name] === undefined) throw usageError(`no profile '${args.name}' in ${path}`);
  delete file.profiles[args.name];
  if (file.current === args.name) delete file.current;
  saveProfiles(path, file);
  await ctx.io.stdout(render(ctx.format, { path, deleted: args.name }, () => `deleted profile ${args.name}\n`));
}
