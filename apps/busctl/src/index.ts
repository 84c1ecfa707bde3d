// busctl, the StreamBus admin CLI: the command tree and its building blocks, exported for
// tests and for tools that embed it. The executable is cli.ts (dist/busctl.js).
export { buildCli, runCli } from './program.js';
export { CommandContext, type GlobalFlags } from './context.js';
export { BusctlError, ExitCode, describeError, exitCodeOf, usageError, type BusctlErrorCode } from './errors.js';
export { FORMATS, render, renderFields, renderTable, type Format } from './format.js';
export { palette, streamWriter, useColor, type Io, type Palette } from './io.js';
export { DEFAULT_BROKERS, checkBroker, configPath, loadProfiles, resolveBrokers, saveProfiles, splitBrokers, type Profile, type ProfileFile } from './profiles.js';
export { parseAcks, parseLine, parsePairs, parseStart, toJsonRecord, unescapeSeparator, type JsonRecord, type StartSpec } from './parse.js';
export { assessHealth, type HealthReport } from './commands/cluster.js';
export { latencyOf, type BenchSummary, type LatencySummary } from './commands/bench.js';
export { devUpArgs, findRepoRoot, launcherCommand } from './commands/dev.js';
