// `busctl cluster info|health`.
import { type ClusterDetails, type TopicDetails } from '@streambus/client';
import { type CommandContext } from '../context.js';
import { render, renderFields, renderTable } from '../format.js';

export interface ClusterInfo {
  clusterId: string;
  metadataLeaderId: number | null;
  brokers: { brokerId: number; host: string; port: number; rack: string | null; fenced: boolean }[];
  topics: number;
  partitions: number;
}

export async function clusterInfo(ctx: CommandContext): Promise<void> {
  const admin = ctx.bus.admin();
  const [all, live, topics] = await Promise.all([admin.describeCluster({ includeFenced: true }), admin.describeCluster(), admin.describeTopics([])]);
  const liveIds = new Set(live.brokers.map((b) => b.brokerId));
  const info: ClusterInfo = {
    clusterId: all.clusterId,
    metadataLeaderId: all.metadataLeaderId ?? null,
    brokers: all.brokers.map((b) => ({ brokerId: b.brokerId, host: b.host, port: b.port, rack: b.rack ?? null, fenced: !liveIds.has(b.brokerId) })).sort((a, b) => a.brokerId - b.brokerId),
    topics: topics.length,
    partitions: topics.reduce((n, t) => n + t.partitions.length, 0),
  };
  await ctx.io.stdout(
    render(ctx.format, info, () =>
      renderFields([
        ['cluster', info.clusterId],
        ['metadata leader', info.metadataLeaderId],
        ['topics', info.topics],
        ['partitions', info.partitions],
      ]) +
      '\n' +
      renderTable(
        ['id', 'address', 'rack', 'state', 'role'],
        info.brokers.map((b) => [b.brokerId, `${b.host}:${b.port}`, b.rack, b.fenced ? 'fenced' : 'live', b.brokerId === info.metadataLeaderId ? 'metadata leader' : '']),
        ctx.colors.bold,
      ),
    ),
  );
}

export interface HealthReport {
  healthy: boolean;
  clusterId: string;
  metadataLeaderId: number | null;
  brokers: { total: number; live: number; fenced: number[] };
  partitions: { total: number; offline: string[]; underReplicated: string[] };
  problems: string[];
}

/**
 * Healthy means: a metadata leader, no fenced broker, no offline and no under-replicated
 * partition. Anything else is a problem an operator should look at before a restart.
 */
export function assessHealth(all: ClusterDetails, live: ClusterDetails, topics: readonly TopicDetails[]): HealthReport {
  const liveIds = new Set(live.brokers.map((b) => b.brokerId));
  const fenced = all.brokers.map((b) => b.brokerId).filter((id) => !liveIds.has(id)).sort((a, b) => a - b);
  const offline: string[] = [];
  const underReplicated: string[] = [];
  let total = 0;
  for (const t of topics) {
    for (const p of t.partitions) {
      total++;
      if (p.offline || p.leaderId === undefined) offline.push(`${t.name}-${p.partition}`);
      else if (p.underReplicated) underReplicated.push(`${t.name}-${p.partition}`);
    }
  }
  const problems: string[] = [];
  if (all.metadataLeaderId === undefined || all.metadataLeaderId === 0) problems.push('no metadata (Raft) leader');
  if (fenced.length > 0) problems.push(`fenced brokers: ${fenced.join(', ')}`);
  if (offline.length > 0) problems.push(`${offline.length} offline partitions: ${offline.slice(0, 10).join(', ')}${offline.length > 10 ? ', ...' : ''}`);
  if (underReplicated.length > 0) problems.push(`${underReplicated.length} under-replicated partitions: ${underReplicated.slice(0, 10).join(', ')}${underReplicated.length > 10 ? ', ...' : ''}`);
  return {
    healthy: problems.length === 0,
    clusterId: all.clusterId,
    metadataLeaderId: all.metadataLeaderId ?? null,
    brokers: { total: all.brokers.length, live: all.brokers.length - fenced.length, fenced },
    partitions: { total, offline, underReplicated },
    problems,
  };
}

export async function clusterHealth(ctx: CommandContext): Promise<void> {
  const admin = ctx.bus.admin();
  const [all, live, topics] = await Promise.all([admin.describeCluster({ includeFenced: true }), admin.describeCluster(), admin.describeTopics([])]);
  const report = assessHealth(all, live, topics);
  const c = ctx.colors;
  await ctx.io.stdout(
    render(ctx.format, report, () =>
      renderFields([
        ['status', report.healthy ? c.green('healthy') : c.red('unhealthy')],
        ['cluster', report.clusterId],
        ['metadata leader', report.metadataLeaderId],
        ['brokers', `${report.brokers.live}/${report.brokers.total} live`],
        ['partitions', `${report.partitions.total} (${report.partitions.offline.length} offline, ${report.partitions.underReplicated.length} under-replicated)`],
      ]) + report.problems.map((p) => `problem: ${p}\n`).join(''),
    ),
  );
  if (!report.healthy) ctx.exitCode = 1;
}
