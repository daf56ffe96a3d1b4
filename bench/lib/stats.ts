// Medians, p99 and the row every benchmark reports: the subject beside its baseline measured in the
// same run, their ratio, and the issue's target with PASS or FAIL.

export interface Summary {
  n: number;
  p50: number;
  p99: number;
  mean: number;
  min: number;
  max: number;
}

/** Nearest-rank percentile of sorted samples (p in 0..100). With few samples, p99 is the maximum. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? Number.NaN;
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((total, x) => total + x, 0);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean: sum / Math.max(1, sorted.length),
    min: sorted[0] ?? Number.NaN,
    max: sorted.at(-1) ?? Number.NaN,
  };
}

/**
 * For rates (higher is better): p50, and in the p99 field the 1st percentile, the slow end, so the
 * p99 column always holds the bad tail.
 */
export function summarizeRate(samples: readonly number[]): Summary {
  const summary = summarize(samples);
  return { ...summary, p99: percentile([...samples].sort((a, b) => a - b), 1) };
}

/** How a target is judged, from a row's figures. */
export type Verdict = 'PASS' | 'FAIL' | 'INFO' | 'ERROR';

export interface Row {
  /** The benchmark (drop-to-start, throughput…). */
  bench: string;
  /** The case within it (0 records, one-phase…). */
  case: string;
  /** The unit of the figures: "ms", "tasks/s", "MiB", "writes/s". */
  unit: string;
  subject: Summary;
  baseline?: Summary;
  /** subject / baseline, on the statistic the target is about. */
  ratio?: string;
  /** The issue's target, in words. */
  target: string;
  verdict: Verdict;
  /** Anything a reader needs: what was adapted, why a figure is what it is. */
  note?: string;
}

export function fmt(value: number, unit: string): string {
  if (!Number.isFinite(value)) return '-';
  if (unit === 'ms') return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
  if (unit === 'MiB') return value.toFixed(0);
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

/** The row of a case that could not be measured: the table says so instead of dropping it. */
export function errorRow(bench: string, label: string, unit: string, target: string, error: unknown): Row {
  const none = summarize([]);
  return { bench, case: label, unit, subject: none, target, verdict: 'ERROR', note: `not measured: ${(error as Error).message ?? String(error)}` };
}

export function ratio(a: number, b: number): number {
  return b === 0 ? Number.NaN : a / b;
}

/** One line of the console report for a row. */
export function rowLine(row: Row): string {
  const s = row.subject;
  const b = row.baseline;
  const figures = `p50 ${fmt(s.p50, row.unit)} p99 ${fmt(s.p99, row.unit)} ${row.unit} (n=${s.n})`;
  const base = b === undefined ? '' : `  | baseline p50 ${fmt(b.p50, row.unit)} p99 ${fmt(b.p99, row.unit)} (n=${b.n})`;
  return `${row.verdict.padEnd(4)} ${`${row.bench} / ${row.case}`.padEnd(48)} ${figures}${base}${row.ratio === undefined ? '' : `  ratio ${row.ratio}`}  target ${row.target}`;
}

/** The results as a markdown table (docs/benchmarks.md). */
export function markdownTable(rows: readonly Row[]): string {
  const lines = [
    '| benchmark | case | orch p50 | orch p99 | baseline p50 | baseline p99 | ratio | target | result |',
    '|---|---|---:|---:|---:|---:|---|---|---|',
  ];
  for (const row of rows) {
    const u = row.unit;
    const b = row.baseline;
    lines.push(
      `| ${row.bench} | ${row.case} | ${fmt(row.subject.p50, u)} ${u} | ${fmt(row.subject.p99, u)} ${u} | ${b === undefined ? '-' : `${fmt(b.p50, u)} ${u}`} | ${b === undefined ? '-' : `${fmt(b.p99, u)} ${u}`} | ${row.ratio ?? '-'} | ${row.target} | ${row.verdict} |`,
    );
  }
  return lines.join('\n');
}

/** A row judged by its p50 against a baseline's p50, with the target `≤ max×` (p99s shown beside). */
export function p50RatioRow(fields: { bench: string; case: string; unit: string; note: string }, subject: Summary, baseline: Summary, max = 1.2): Row {
  const r = ratio(subject.p50, baseline.p50);
  return {
    ...fields,
    subject,
    baseline,
    ratio: `${r.toFixed(2)}× / ${ratio(subject.p99, baseline.p99).toFixed(2)}×`,
    target: `≤ ${max}× (p50)`,
    verdict: r <= max ? 'PASS' : 'FAIL',
  };
}
