/**
 * KSPIN_LOCK and KSPIN_LOCK_QUEUE (nt-semantics.md §6): the encodings the emulator stores in
 * emulated memory. A spin lock is a word anywhere in nonpaged memory that CPUs take with atomic
 * operations on the shared buffer, so contention is real. Like a ReactOS debug build, a held lock
 * records its owner: the word is (owner thread id << 8) | (owner CPU << 1) | 1, which is what lets
 * the CPU report a recursive acquire (0xF SPIN_LOCK_ALREADY_OWNED) and a release by a non-owner
 * (0x10 SPIN_LOCK_NOT_OWNED). A queued (in-stack) lock's word points at the tail waiter's
 * KLOCK_QUEUE_HANDLE instead; waiters spin on their own handle.
 *
 * The acquire/release algorithms run on the CPU (src/cpu/processor.ts), which owns its IRQL. Pure.
 */

/** The word of a plain spin lock held by `threadId` on `cpu`. */
export function spinLockWord(cpu: number, threadId: number): number {
  return (threadId << 8) | (cpu << 1) | 1 | 0;
}

export function spinLockHolderCpu(word: number): number {
  return (word >>> 1) & 0x7f;
}

export function spinLockHolderThread(word: number): number {
  return word >>> 8;
}

/** KLOCK_QUEUE_HANDLE: 3 words in emulated memory (typically on the caller's stack). */
export const QueuedLockField = {
  /** KSPIN_LOCK_QUEUE.Next: the next waiter's handle address, 0 when none has linked in yet */
  NEXT: 0,
  /** KSPIN_LOCK_QUEUE.Lock: the lock's address with LOCK_QUEUE_WAIT / LOCK_QUEUE_OWNER in its low bits */
  LOCK: 1,
  OLD_IRQL: 2,
  WORDS: 3,
} as const;

export const LOCK_QUEUE_WAIT = 1;
export const LOCK_QUEUE_OWNER = 2;
