// Worker entry for `irqlab explore`'s piscina pool: wiring only (src/explore/pool-worker.ts runs the iterations).
export { default } from '../src/explore/pool-worker.js';
