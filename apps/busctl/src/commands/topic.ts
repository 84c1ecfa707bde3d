// `busctl topic create|list|describe|delete|alter-config|add-partitions`.
import { type ConfigDetails, type TopicDetails } from '@streambus/client';
import { type CommandContext } from '../context.js';
import { usageError } from '../errors.js';
import { render, renderFields, renderTable } from '../format.js';
import { pairsToRecord } from '../parse.js';

export interface CreateArgs {
  name: string;
  partitions: number;
  replicationFactor: number;
  config: readonly string[];
  ifNotExists: boolean;
}

export async function topicCreate(ctx: CommandContext, args: CreateArgs): Promise<void> {
  const configs = pairsToRecord(args.config, '--config');
  const admin = ctx.bus.admin();
  let created: { name: string; topicId: string; numPartitions: number; replicationFactor: number; created: boolean };
  try {
    const [result] = await admin.createTopics([{ name: args.name, numPartitions: args.partitions, replicationFactor: args.replicationFactor, configs }]);
    if (result === undefined) throw new Error(`the broker answered nothing for topic ${args.name}`);
    created = { ...result, created: true };
  } catch (err) {
    if (!(args.ifNotExists && (err as { code?: unknown }).code === 'TOPIC_ALREADY_EXISTS')) throw err;
    const [t] = await admin.describeTopics([args.name]);
    created = { name: args.name, topicId: t?.topicId ?? '', numPartitions: t?.partitions.length ?? 0, replicationFactor: t?.partitions[0]?.replicas.length ?? 0, created: false };
  }
  await ctx.io.stdout(
    render(ctx.format, created, () =>
      created.created ? `created topic ${created.name} (${created.numPartitions} partitions, replication factor ${created.replicationFactor})\n` : `topic ${created.name} already exists\n`,
    ),
  );
}

export async function topicList(ctx: CommandContext, args: { internal: boolean }): Promise<void> {
  const topics = await ctx.bus.admin().describeTopics([], { includeInternal: args.internal });
  const rows = topics
    .map((t) => ({
      name: t.name,
      partitions: t.partitions.length,
      replicationFactor: t.partitions[0]?.replicas.length ?? 0,
      underReplicated: t.partitions.filter((p) => p.underReplicated).length,
      offline: t.partitions.filter((p) => p.offline).length,
      internal: t.internal,
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
  await ctx.io.stdout(
    render(ctx.format, rows, () =>
      rows.length === 0 ? 'no topics\n' : renderTable(['name', 'partitions', 'replicas', 'under-replicated', 'offline'], rows.map((r) => [r.name, r.partitions, r.replicationFactor, r.underReplicated, r.offline]), ctx.colors.bold),
    ),
  );
}

interface DescribedTopic extends TopicDetails {
  configs: ConfigDetails[];
  offsets: { partition: number; logStartOffset: number; highWatermark: number }[];
}

export async function topicDescribe(ctx: CommandContext, args: { names: readonly string[]; offsets: boolean }): Promise<void> {
  const admin = ctx.bus.admin();
  const topics = await admin.describeTopics(args.names);
  const configs = await admin.describeConfigs(topics.map((t) => ({ type: 'topic' as const, name: t.name })));
  const described: DescribedTopic[] = [];
  for (const t of topics) {
    let offsets: DescribedTopic['offsets'] = [];
    if (args.offsets) {
      const parts = t.partitions.filter((p) => !p.offline).map((p) => p.partition);
      const [starts, ends] = await Promise.all([
        admin.listOffsets(parts.map((partition) => ({ topic: t.name, partition, spec: 'earliest' as const }))),
        admin.listOffsets(parts.map((partition) => ({ topic: t.name, partition, spec: 'latest' as const }))),
      ]);
      offsets = parts.map((partition, i) => ({ partition, logStartOffset: starts[i]?.offset ?? -1, highWatermark: ends[i]?.offset ?? -1 }));
    }
    described.push({ ...t, configs: configs.find((c) => c.name === t.name)?.configs ?? [], offsets });
  }
  const table = (): string =>
    described
      .map((t) => {
        const set = t.configs.filter((c) => c.source === 'dynamic-topic');
        const byPartition = new Map(t.offsets.map((o) => [o.partition, o]));
        const headers = ['partition', 'leader', 'leader epoch', 'replicas', 'isr', 'status'];
        if (args.offsets) headers.push('start', 'high watermark');
        return (
          renderFields([
            ['topic', t.name],
            ['id', t.topicId],
            ['partitions', t.partitions.length],
            ['configs', set.length === 0 ? '(defaults)' : set.map((c) => `${c.name}=${c.value ?? ''}`).join(' ')],
          ]) +
          renderTable(
            headers,
            t.partitions.map((p) => {
              const row = [p.partition, p.leaderId ?? null, p.leaderEpoch, p.replicas, p.isr, p.offline ? 'offline' : p.underReplicated ? 'under-replicated' : 'ok'] as (string | number | number[] | null)[];
              if (args.offsets) row.push(byPartition.get(p.partition)?.logStartOffset ?? null, byPartition.get(p.partition)?.highWatermark ?? null);
              return row;
            }),
            ctx.colors.bold,
          )
        );
      })
      .join('\n');
  await ctx.io.stdout(render(ctx.format, args.names.length === 1 ? described[0] : described, table));
}

export async function topicDelete(ctx: CommandContext, args: { names: readonly string[] }): Promise<void> {
  await ctx.bus.admin().deleteTopics(args.names);
  await ctx.io.stdout(render(ctx.format, { deleted: args.names }, () => args.names.map((n) => `deleted topic ${n}\n`).join('')));
}

export async function topicAlterConfig(ctx: CommandContext, args: { name: string; set: readonly string[]; delete: readonly string[] }): Promise<void> {
  const sets = Object.entries(pairsToRecord(args.set, '--set')).map(([name, value]) => ({ name, op: 'set' as const, value }));
  const deletes = args.delete.map((name) => ({ name, op: 'delete' as const }));
  if (sets.length + deletes.length === 0) throw usageError('alter-config needs at least one --set key=value or --delete key');
  await ctx.bus.admin().alterConfigs([{ type: 'topic', name: args.name, configs: [...sets, ...deletes] }]);
  const [after] = await ctx.bus.admin().describeConfigs([{ type: 'topic', name: args.name }]);
  const changed = new Set([...sets.map((s) => s.name), ...deletes.map((d) => d.name)]);
  const configs = (after?.configs ?? []).filter((c) => changed.has(c.name));
  await ctx.io.stdout(
    render(ctx.format, { topic: args.name, configs }, () => renderTable(['config', 'value', 'source'], configs.map((c) => [c.name, c.value ?? null, c.source]), ctx.colors.bold)),
  );
}

export async function topicAddPartitions(ctx: CommandContext, args: { name: string; count: number }): Promise<void> {
  const admin = ctx.bus.admin();
  await admin.createPartitions([{ name: args.name, count: args.count }]);
  await ctx.io.stdout(render(ctx.format, { topic: args.name, partitions: args.count }, () => `topic ${args.name} now has ${args.count} partitions\n`));
}
