// Quickstart: create a topic, produce a few records through its leader and read them back,
// using only the gRPC protocol client and the record codec (the SDK and busctl will wrap this).
//
//   npm start                     # in another terminal: a local 3-broker cluster
//   node --conditions=@streambus/source --import tsx apps/broker/examples/quickstart.ts [bootstrap] [topic]
//
// bootstrap: comma-separated host:port client addresses (default: $STREAMBUS_BOOTSTRAP or
// 127.0.0.1:9092,127.0.0.1:9192,127.0.0.1:9292, the dev cluster's).
import { createClient, ErrorCode, errorCodeName, OffsetSpec, type StreamBusClient } from '@streambus/protocol';
import { decodeRecords, encodeBatch, splitBatches } from '@streambus/record';

const bootstrap = (process.argv[2] ?? process.env.STREAMBUS_BOOTSTRAP ?? '127.0.0.1:9092,127.0.0.1:9192,127.0.0.1:9292').split(',');
const topic = process.argv[3] ?? `quickstart-${Date.now()}`;
const CALL_TIMEOUT_MS = 5_000;
const LEADER_WAIT_MS = 10_000;

/** The first bootstrap broker that answers. */
async function connect(): Promise<{ client: StreamBusClient; address: string }> {
  for (const address of bootstrap) {
    const client = createClient(address);
    try {
      await client.describeCluster({ includeFenced: false }, { timeoutMs: CALL_TIMEOUT_MS });
      return { client, address };
    } catch {
      client.close();
    }
  }
  throw new Error(`no broker answered at ${bootstrap.join(', ')}; is the cluster running (npm start)?`);
}

/** The partition leader's client, once the leader serves the partition (it may be opening its log). */
async function leaderOf(any: StreamBusClient, partition: number): Promise<StreamBusClient> {
  const deadline = Date.now() + LEADER_WAIT_MS;
  for (;;) {
    const md = await any.metadata({ topics: [topic] }, { timeoutMs: CALL_TIMEOUT_MS });
    const leaderId = md.topics[0]?.partitions.find((p) => p.partition === partition)?.leaderId;
    const broker = md.brokers.find((b) => b.brokerId === leaderId);
    if (broker !== undefined) {
      const leader = createClient(`${broker.host}:${broker.port}`);
      const probe = await leader.listOffsets({ isolationLevel: 0, partitions: [{ topic, partition, spec: OffsetSpec.LATEST, timestampMs: 0 }] }, { timeoutMs: CALL_TIMEOUT_MS });
      if (probe.partitions[0]?.errorCode === ErrorCode.NONE) return leader;
      leader.close();
    }
    if (Date.now() > deadline) throw new Error(`no leader serves ${topic}-${partition} after ${LEADER_WAIT_MS} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main(): Promise<void> {
  const { client, address } = await connect();
  const cluster = await client.describeCluster({ includeFenced: false });
  console.log(`connected to ${address}: cluster ${cluster.clusterId}, ${cluster.brokers.length} broker(s), metadata leader ${cluster.metadataLeaderId ?? 'none'}`);

  if (cluster.brokers.length === 0) throw new Error(`${address} knows no live broker yet; wait until /readyz answers 200`);
  const replicationFactor = Math.min(3, cluster.brokers.length);
  const created = await client.createTopics({ topics: [{ name: topic, numPartitions: 1, replicationFactor, assignments: [], configs: {} }], timeoutMs: 10_000, validateOnly: false });
  const error = created.topics[0]?.error;
  if (error !== undefined && error.code !== ErrorCode.TOPIC_ALREADY_EXISTS) throw new Error(`create ${topic}: ${errorCodeName(error.code)} ${error.message}`);
  console.log(`topic ${topic}: 1 partition, replication factor ${replicationFactor}`);

  const leader = await leaderOf(client, 0);
  const records = ['hello', 'from', 'the', 'streambus', 'quickstart'].map((word, i) => ({ key: Buffer.from(`key-${i}`), value: Buffer.from(word) }));
  const produced = await leader.produce({ acks: -1, timeoutMs: 10_000, partitions: [{ topic, partition: 0, records: await encodeBatch(records) }] });
  const p = produced.partitions[0];
  if (p === undefined || p.errorCode !== ErrorCode.NONE) throw new Error(`produce: ${errorCodeName(p?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR)} ${p?.errorMessage ?? ''}`);
  console.log(`produced ${records.length} records at base offset ${p.baseOffset}`);

  const fetched = await leader.fetch({ maxWaitMs: 1_000, minBytes: 1, maxBytes: 1024 * 1024, isolationLevel: 0, partitions: [{ topic, partition: 0, fetchOffset: p.baseOffset, partitionMaxBytes: 1024 * 1024 }] });
  const f = fetched.partitions[0];
  if (f === undefined || f.errorCode !== ErrorCode.NONE) throw new Error(`fetch: ${errorCodeName(f?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR)} ${f?.errorMessage ?? ''}`);
  for (const batch of splitBatches(f.records)) {
    for (const r of await decodeRecords(batch)) {
      if (r.offset >= p.baseOffset) console.log(`  offset ${r.offset}  key ${r.key?.toString() ?? 'null'}  value ${r.value?.toString() ?? 'null'}`);
    }
  }
  console.log(`high watermark ${f.highWatermark}`);
  leader.close();
  client.close();
}

main().catch((err: unknown) => {
  console.error(`quickstart failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
