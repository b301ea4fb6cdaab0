/**
 * The run's result types, for the main thread and the public API: defined in
 * src/contract/result.ts, below the actors that fill parts of them (report frames) and the
 * scenario layer that reads them (a scenario's `results` callback).
 */

export * from '../contract/result.js';
