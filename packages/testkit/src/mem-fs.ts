import { MemFileSystem, type MemFileSystemOptions } from '@streambus/storage';
import { type Prng } from './prng.js';

// The simulated file system is owned by @streambus/storage (MemFileSystem: unsynced data lost
// on crash, torn writes, ENOSPC, EIO); the test kit only re-exports it and wires it to a Prng
// so that one simulation seed also decides every disk fault.

/** A MemFileSystem whose randomness (torn-write lengths, garbled bytes) comes from `prng`. */
export function simFileSystem(prng: Prng, options: Omit<MemFileSystemOptions, 'random'> = {}): MemFileSystem {
  return new MemFileSystem({ ...options, random: () => prng.next() });
}
