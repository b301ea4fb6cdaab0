/**
 * A one-line progress bar on stderr while a run goes: only when stderr is a terminal, redrawn at
 * most 10 times a second, erased when the run ends. Never writes to stdout.
 */

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(chunk: string): unknown;
}

export interface Progress {
  /** RunOptions.onProgress */
  update(emulatedNs: number, durationNs: number): void;
  /** erase the line (idempotent) */
  clear(): void;
}

const MIN_INTERVAL_MS = 100;

const NO_PROGRESS: Progress = { update: () => {}, clear: () => {} };

export function createProgress(label: string, stream: ProgressStream = process.stderr, now: () => number = () => performance.now()): Progress {
  if (!stream.isTTY) return NO_PROGRESS;
  let lastDraw = -Infinity;
  let drawn = false;
  let endDrawn = false;
  return {
    update(emulatedNs, durationNs) {
      const t = now();
      // the end of the run is drawn once however soon it comes, so the last line shown is not a stale one
      const end = emulatedNs >= durationNs;
      if (t - lastDraw < MIN_INTERVAL_MS && !(end && !endDrawn)) return;
      lastDraw = t;
      if (end) endDrawn = true;
      stream.write(`\r${progressLine(label, emulatedNs, durationNs, stream.columns && stream.columns >= 20 ? stream.columns : 80)}\x1b[K`);
      drawn = true;
    },
    clear() {
      if (!drawn) return;
      drawn = false;
      stream.write('\r\x1b[K');
    },
  };
}

/** `irqlab interrupt-storm [#########...........]  45%  22.5 / 50.0 ms emulated`, at most `columns - 1` wide. */
export function progressLine(label: string, emulatedNs: number, durationNs: number, columns: number): string {
  const fraction = durationNs > 0 ? Math.min(1, Math.max(0, emulatedNs / durationNs)) : 0;
  const pct = `${Math.floor(fraction * 100)}%`.padStart(4);
  const total = (durationNs / 1e6).toFixed(1);
  // padded to the total's width so that the bar keeps its width as the count grows
  const tail = ` ${pct}  ${(emulatedNs / 1e6).toFixed(1).padStart(total.length)} / ${total} ms emulated`;
  const head = `irqlab ${label} `;
  const barWidth = Math.max(10, Math.min(40, columns - 1 - head.length - tail.length - 2));
  const filled = Math.round(fraction * barWidth);
  const line = `${head}[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}]${tail}`;
  return line.length > columns - 1 ? line.slice(0, Math.max(0, columns - 1)) : line;
}
