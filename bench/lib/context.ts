// What every benchmark gets from bench/run.ts.
import type { Row } from './stats.js';

export interface BenchContext {
  /** --quick: fewer repetitions and smaller sets, the whole run under a minute. */
  quick: boolean;
  /** A scratch dir for this benchmark (removed after the run unless --keep). */
  workDir: string;
  /** Progress lines (stderr), so stdout stays the report. */
  log: (line: string) => void;
}

export interface Benchmark {
  name: string;
  /** One line: what it measures against what. */
  about: string;
  run: (ctx: BenchContext) => Promise<Row[]>;
}
