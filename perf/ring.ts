/**
 * Ring benchmark: irqlab's SpscRing + Doorbell against MessagePort postMessage and a bare Int32
 * SPSC ring, all between two workers (producer, consumer) in the same run, 5 repetitions, medians.
 * Main thread only (it orchestrates; the workers do the measuring). Run `node dist/perf/ring.js
 * [--json] [--messages N]` (--json: {host, results: [BenchResult]}), or call runRingBench() from a runner.
 *
 * What each scenario measures, always messages/s at the consumer from its first message to its last:
 *  - ring:        4-word records, one publish + doorbell ring per record; the consumer spins ~16 µs
 *                 then sleeps on the doorbell (the mode an emulated CPU runs in)
 *  - ring16:      the same with 16 records per publish
 *  - postMessage: an equivalent small object per message through a MessageChannel
 *  - bare:        fixed 4-word slots, Atomics head/tail, busy consumer (the ceiling for this host)
 */

import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { MessageChannel, Worker } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { SpscRing } from '../src/shm/spsc-ring.js';
import type { BenchResult } from './bench-result.js';
import { hostInfo } from './common.js';
import { BARE_WORDS } from './ring-worker.js';
import type { RunReply, RunRequest, Scenario } from './ring-worker.js';

export type { BenchResult } from './bench-result.js';

export interface RingBenchOptions {
  /** false: print the human-readable report when done; true: print nothing (the caller prints JSON) */
  json: boolean;
  /** messages per ring run (default 2,000,000); postMessage runs carry a tenth of that */
  messages?: number;
}

const REPETITIONS = 5;
const RING_CAPACITY = 4096;
const SCENARIOS: Scenario[] = ['ring', 'ring16', 'postMessage', 'bare'];
const TARGET_VS_POST = 15;
const TARGET_VS_BARE = 0.5;

export async function runRingBench(opts: RingBenchOptions): Promise<BenchResult> {
  const messages = opts.messages ?? 2_000_000;
  const workerUrl = new URL('./ring-worker.js', import.meta.url);
  const producer = new Worker(workerUrl);
  const consumer = new Worker(workerUrl);
  const rates: Record<Scenario, number[]> = { ring: [], ring16: [], postMessage: [], bare: [] };
  try {
    for (let rep = 0; rep < REPETITIONS; rep++) {
      for (const scenario of SCENARIOS) {
        const n = scenario === 'postMessage' ? Math.max(2, Math.floor(messages / 10)) : messages;
        rates[scenario].push(await runOnce(producer, consumer, scenario, n));
      }
    }
  } finally {
    await Promise.all([producer.terminate(), consumer.terminate()]);
  }
  const med = (s: Scenario): number => median(rates[s]);
  const ring = med('ring');
  const post = med('postMessage');
  const bare = med('bare');
  const metrics: Record<string, number> = {
    ringMsgsPerSec: Math.round(ring),
    ringBatch16MsgsPerSec: Math.round(med('ring16')),
    postMessageMsgsPerSec: Math.round(post),
    bareRingMsgsPerSec: Math.round(bare),
    ringVsPostMessage: round2(ring / post),
    ringVsBare: round2(ring / bare),
    ringBatch16VsBare: round2(med('ring16') / bare),
    availableParallelism: os.availableParallelism(),
    messages,
    repetitions: REPETITIONS,
  };
  const notes = [
    `medians of ${REPETITIONS} runs; one producer and one consumer worker; ${messages} messages per ring run, ${Math.floor(messages / 10)} per postMessage run`,
    `ringVsPostMessage ${metrics.ringVsPostMessage}x (target >= ${TARGET_VS_POST}x): ${ring / post >= TARGET_VS_POST ? 'met' : 'NOT met'}`,
    `ringVsBare ${metrics.ringVsBare}x (target >= ${TARGET_VS_BARE}x, irqlab ring 1 record per publish with a sleeping-capable consumer vs the bare ring's busy consumer): ${ring / bare >= TARGET_VS_BARE ? 'met' : 'NOT met'}`,
    'the irqlab producer rings the doorbell only when its publish found the ring drained (the Outbox rule); the consumer spins ~16 µs on the doorbell, then sleeps',
    'virtual-machine hosts make wake-ups expensive; figures move with host load, compare ratios rather than absolute rates',
  ];
  const result: BenchResult = { name: 'ring', metrics, notes };
  if (!opts.json) printPretty(result);
  return result;
}

async function runOnce(producer: Worker, consumer: Worker, scenario: Scenario, messages: number): Promise<number> {
  const base: RunRequest = { scenario, role: 'consumer', messages };
  let consumerReq: RunRequest;
  let producerReq: RunRequest;
  const transfer: { consumer: MessagePort[]; producer: MessagePort[] } = { consumer: [], producer: [] };
  if (scenario === 'postMessage') {
    const { port1, port2 } = new MessageChannel();
    consumerReq = { ...base, port: port2 };
    producerReq = { ...base, role: 'producer', port: port1 };
    transfer.consumer.push(port2);
    transfer.producer.push(port1);
  } else if (scenario === 'bare') {
    const sab = new SharedArrayBuffer(BARE_WORDS * 4);
    consumerReq = { ...base, sab };
    producerReq = { ...base, role: 'producer', sab };
  } else {
    const doorbellBase = 0;
    // keep the ring header off the doorbell's cache line: producers hammer both
    const ringBase = 16;
    const i32 = new Int32Array(new SharedArrayBuffer((ringBase + SpscRing.wordsFor(RING_CAPACITY)) * 4));
    SpscRing.init(i32, ringBase, RING_CAPACITY);
    consumerReq = { ...base, sab: i32.buffer as SharedArrayBuffer, ringBase, doorbellBase };
    producerReq = { ...consumerReq, role: 'producer' };
  }
  const consumerDone = reply(consumer);
  const producerDone = reply(producer);
  consumer.postMessage(consumerReq, transfer.consumer);
  producer.postMessage(producerReq, transfer.producer);
  const [c] = await Promise.all([consumerDone, producerDone]);
  if (c.errors > 0) throw new Error(`${scenario}: ${c.errors} messages arrived out of sequence`);
  return c.rate;
}

/** The next reply from `w`, or its error/exit as a rejection (a worker that dies must not hang us). */
function reply(w: Worker): Promise<RunReply> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: RunReply): void => {
      cleanup();
      resolve(m);
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onExit = (code: number): void => {
      cleanup();
      reject(new Error(`bench worker exited (${code})`));
    };
    const cleanup = (): void => {
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
    };
    w.on('message', onMessage);
    w.on('error', onError);
    w.on('exit', onExit);
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

function printPretty(r: BenchResult): void {
  const m = r.metrics;
  const fmt = (x: number | undefined): string => `${((x ?? 0) / 1e6).toFixed(2).padStart(8)} M msg/s`;
  console.log(`ring benchmark (${m.availableParallelism} cores available)`);
  console.log(`  irqlab ring, 1 per publish   ${fmt(m.ringMsgsPerSec)}`);
  console.log(`  irqlab ring, 16 per publish  ${fmt(m.ringBatch16MsgsPerSec)}`);
  console.log(`  MessagePort postMessage      ${fmt(m.postMessageMsgsPerSec)}`);
  console.log(`  bare Int32 ring (busy)       ${fmt(m.bareRingMsgsPerSec)}`);
  console.log(`  ring vs postMessage          ${m.ringVsPostMessage}x`);
  console.log(`  ring vs bare                 ${m.ringVsBare}x   (16 per publish: ${m.ringBatch16VsBare}x)`);
  for (const note of r.notes) console.log(`  - ${note}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  let json = false;
  let messages: number | undefined;
  try {
    const { values } = parseArgs({ options: { json: { type: 'boolean' }, messages: { type: 'string' } }, strict: true, allowPositionals: false });
    json = values.json ?? false;
    if (values.messages !== undefined) {
      messages = Number(values.messages);
      if (!(Number.isInteger(messages) && messages > 1)) throw new Error(`--messages needs an integer > 1 (got '${values.messages}')`);
    }
  } catch (error) {
    console.error(`irqlab bench: ${(error as Error).message.split('\n', 1)[0]}`);
    process.exit(1);
  }
  const result = await runRingBench({ json, ...(messages !== undefined ? { messages } : {}) });
  if (json) console.log(JSON.stringify({ host: hostInfo(), results: [result] }));
}
