// @streambus/client: the TypeScript SDK (producer, consumer, admin) and an in-process fake
// cluster for users' own tests.
export { StreamBus, type StreamBusOptions } from './streambus.js';
export {
  Producer,
  type Acks,
  type MessageBytes,
  type ProducerMessage,
  type ProducerMetrics,
  type ProducerOptions,
  type ProducerRecord,
  type RecordMetadata,
  type SendOptions,
} from './producer.js';
export {
  Consumer,
  type Assignment,
  type ConsumerBatch,
  type ConsumerOptions,
  type ConsumerRecord,
  type OffsetSpecInput,
  type PartitionLag,
  type TopicPartition,
} from './consumer.js';
export {
  Admin,
  type AdminCallOptions,
  type ClusterDetails,
  type ConfigChange,
  type ConfigDetails,
  type ConfigResourceRef,
  type ListedOffset,
  type NewTopic,
  type PartitionDetails,
  type TopicDetails,
} from './admin.js';
export { ClientError, isClientError, isRetriableError, type ClientErrorCode, type SdkError } from './errors.js';
export { murmur2, partitionForKey } from './murmur2.js';
export { FakeBroker, type FakeApi, type FakeBrokerOptions, type FakeBrokerStats, type InjectedError } from './testing/fake-broker.js';
// Re-exported so users need not depend on @streambus/protocol to inspect errors.
export { ErrorCode, StreamBusError, TransportError, isStreamBusError, isTransportError } from '@streambus/protocol';
export { type CompressionName } from '@streambus/record';
