import { describe, expect, it } from 'vitest';
import { TestLog, cluster } from '../test/helpers.js';

describe('ControllerLease', () => {
  it('grants epoch 1 first, with the expiry counted from the command timestamp', () => {
    const log = new TestLog();
    const r = log.ok({ type: 'ControllerLease', controllerId: 100, controllerEpoch: 1, leaseDurationMs: 3_000 });
    expect(r.lease).toEqual({ controllerId: 100, controllerEpoch: 1, leaseExpiryMs: 4_000 });
    expect(log.state.controllerEpoch).toBe(1);
    expect(log.last?.delta.controllerLeaseChanged).toBe(true);
  });

  it('refuses a second controller while the lease is live, and grants it once the lease lapses', () => {
    const log = new TestLog();
    log.ok({ type: 'ControllerLease', controllerId: 100, controllerEpoch: 1, leaseDurationMs: 3_000 });
    log.advance(2_999);
    expect(log.rejects({ type: 'ControllerLease', controllerId: 200, controllerEpoch: 2, leaseDurationMs: 3_000 })).toBe('NOT_CONTROLLER');
    log.advance(1);
    log.ok({ type: 'ControllerLease', controllerId: 200, controllerEpoch: 2, leaseDurationMs: 3_000 });
    expect(log.state.controllerLease).toEqual({ controllerId: 200, controllerEpoch: 2, leaseExpiryMs: 7_000 });
  });

  it('renews a live lease at the same epoch, and refuses to renew a lapsed one', () => {
    const log = new TestLog();
    log.ok({ type: 'ControllerLease', controllerId: 100, controllerEpoch: 1, leaseDurationMs: 3_000 });
    log.advance(2_000);
    log.ok({ type: 'ControllerLease', controllerId: 100, controllerEpoch: 1, leaseDurationMs: 3_000 });
    expect(log.state.controllerLease?.leaseExpiryMs).toBe(6_000);
    log.advance(3_000);
    expect(log.rejects({ type: 'ControllerLease', controllerId: 100, controllerEpoch: 1, leaseDurationMs: 3_000 })).toBe('STALE_CONTROLLER_EPOCH');
    log.ok({ type: 'ControllerLease', controllerId: 100, controllerEpoch: 2, leaseDurationMs: 3_000 });
  });

  it('releases with a zero duration, after which anyone may take epoch + 1 at once', () => {
    const log = new TestLog();
    log.ok({ type: 'ControllerLease', controllerId: 100, controllerEpoch: 1, leaseDurationMs: 3_000 });
    log.ok({ type: 'ControllerLease', controllerId: 100, controllerEpoch: 1, leaseDurationMs: 0 });
    expect(log.state.controllerLease).toBeNull();
    expect(log.state.controllerEpoch).toBe(1);
    log.ok({ type: 'ControllerLease', controllerId: 200, controllerEpoch: 2, leaseDurationMs: 3_000 });
  });

  it('rejects other holders of the current epoch, stale epochs, skipped epochs and zero-length acquisitions', () => {
    const log = new TestLog();
    log.ok({ type: 'ControllerLease', controllerId: 100, controllerEpoch: 1, leaseDurationMs: 3_000 });
    log.advance(3_000);
    log.ok({ type: 'ControllerLease', controllerId: 200, controllerEpoch: 2, leaseDurationMs: 3_000 });
    expect(log.state.controllerLease?.controllerId).toBe(200);
    expect(log.rejects({ type: 'ControllerLease', controllerId: 100, controllerEpoch: 2, leaseDurationMs: 3_000 })).toBe('STALE_CONTROLLER_EPOCH');
    expect(log.rejects({ type: 'ControllerLease', controllerId: 100, controllerEpoch: 1, leaseDurationMs: 3_000 })).toBe('STALE_CONTROLLER_EPOCH');
    expect(log.rejects({ type: 'ControllerLease', controllerId: 100, controllerEpoch: 5, leaseDurationMs: 3_000 })).toBe('INVALID_REQUEST');
    log.advance(5_000);
    expect(log.rejects({ type: 'ControllerLease', controllerId: 100, controllerEpoch: 3, leaseDurationMs: 0 })).toBe('INVALID_REQUEST');
    expect(log.rejects({ type: 'ControllerLease', controllerId: 100, controllerEpoch: 3, leaseDurationMs: 60_001 })).toBe('INVALID_REQUEST');
  });
});

describe('controller stamps', () => {
  it('accept decisions stamped with the live lease epoch', () => {
    const log = cluster(2);
    log.ok({ type: 'ControllerLease', controllerId: 100, controllerEpoch: 1, leaseDurationMs: 3_000 });
    log.ok({ type: 'FenceBroker', brokerId: 1, brokerEpoch: log.brokerEpoch(1), controllerEpoch: 1 });
    expect(log.state.brokers.get(1)?.fenced).toBe(true);
  });

  it('reject decisions from a replaced controller or after the lease lapsed', () => {
    const log = cluster(2);
    log.ok({ type: 'ControllerLease', controllerId: 100, controllerEpoch: 1, leaseDurationMs: 3_000 });
    log.advance(3_000);
    expect(log.rejects({ type: 'FenceBroker', brokerId: 1, brokerEpoch: log.brokerEpoch(1), controllerEpoch: 1 })).toBe('STALE_CONTROLLER_EPOCH');
    log.ok({ type: 'ControllerLease', controllerId: 200, controllerEpoch: 2, leaseDurationMs: 3_000 });
    const topicId = log.createTopic('t', [[1, 2]]).topicId;
    expect(log.rejects({ type: 'PartitionChange', topicId, partition: 0, partitionEpoch: 0, leader: 2, controllerEpoch: 1 })).toBe('STALE_CONTROLLER_EPOCH');
    expect(log.rejects({ type: 'CreateTopic', name: 'u', assignment: [[1]], configs: {}, controllerEpoch: 1 })).toBe('STALE_CONTROLLER_EPOCH');
    expect(log.rejects({ type: 'DeleteTopic', topicId, controllerEpoch: 3 })).toBe('STALE_CONTROLLER_EPOCH');
    log.ok({ type: 'DeleteTopic', topicId, controllerEpoch: 2 });
  });
});
