// Reads a topic from the beginning with the SDK and prints one line per record, then exits
// once it has caught up with every partition's high watermark.
//
//   npm start                                    # in another terminal: the dev cluster
//   node --conditions=@streambus/source --import tsx packages/client/examples/read-topic.ts <topic> [brokers]
import { StreamBus } from '@streambus/client';

const topic = process.argv[2];
if (topic === undefined) {
  process.stderr.write('usage: read-topic.ts <topic> [host:port,...]\n');
  process.exit(2);
}
const brokers = (process.argv[3] ?? process.env.STREAMBUS_BOOTSTRAP ?? '127.0.0.1:9092,127.0.0.1:9192,127.0.0.1:9292').split(',');

const bus = new StreamBus({ brokers });
try {
  const [description] = await bus.admin().describeTopics([topic]);
  const partitions = description?.partitions.map((p) => p.partition) ?? [];
  const consumer = bus.consumer({ autoOffsetReset: 'earliest' });
  consumer.assign(partitions.map((partition) => ({ topic, partition, offset: 'earliest' as const })));
  const abort = new AbortController();
  const idle = setInterval(() => {
    // Caught up everywhere: nothing left to print.
    if (consumer.lags().every((l) => l.highWatermark !== undefined && l.lag === 0)) abort.abort();
  }, 250);
  let count = 0;
  try {
    for await (const record of consumer.records({ signal: abort.signal })) {
      count += 1;
      process.stdout.write(`${record.partition}@${record.offset} ${record.key?.toString() ?? '-'} ${record.value?.toString() ?? '(null)'}\n`);
    }
  } catch (err) {
    if (!abort.signal.aborted) throw err;
  } finally {
    clearInterval(idle);
    await consumer.close();
  }
  process.stderr.write(`read ${count} record(s) from ${partitions.length} partition(s) of ${topic}\n`);
} finally {
  await bus.close();
}
