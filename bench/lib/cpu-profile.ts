// Summarises a V8 .cpuprofile (node --cpu-prof): self time per function and per file, and the
// inclusive time of chosen functions, so a profile reads as "where the milliseconds went".
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface CostLine {
  name: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Self time, by function. */
  functions: CostLine[];
  /** Self time, by source file (node internals grouped as `node:<module>`, native as `(native)`). */
  files: CostLine[];
  /** Inclusive time of functions whose name matches one of `inclusive`. */
  inclusive: CostLine[];
}

const REPO = fileURLToPath(new URL('../../', import.meta.url));

function fileOf(frame: CallFrame): string {
  const { url } = frame;
  if (url === '') return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  if (url.startsWith('node:')) return url;
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const rel = relative(REPO, path);
  const nm = rel.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = rel.slice(nm + 'node_modules/'.length).split('/');
    return `npm:${rest[0]?.startsWith('@') === true ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  return rel;
}

function label(frame: CallFrame): string {
  return `${frame.functionName || '(anonymous)'} ${fileOf(frame)}:${frame.lineNumber + 1}`;
}

function top(map: Map<string, number>, totalMs: number, n: number): CostLine[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, ms]) => ({ name, ms, share: ms / totalMs }));
}

export function summarizeProfile(path: string, options: { top?: number; inclusive?: readonly string[] } = {}): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const n = options.top ?? 15;
  const byId = new Map(profile.nodes.map(node => [node.id, node]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  const functions = new Map<string, number>();
  const files = new Map<string, number>();
  for (const [id, ms] of self) {
    const node = byId.get(id);
    if (node === undefined) continue;
    functions.set(label(node.callFrame), (functions.get(label(node.callFrame)) ?? 0) + ms);
    files.set(fileOf(node.callFrame), (files.get(fileOf(node.callFrame)) ?? 0) + ms);
  }
  // Inclusive time: a node's self time plus its subtree's, counted once per matching name on the path.
  const inclusive = new Map<string, number>();
  const wanted = options.inclusive ?? [];
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  for (const [id, ms] of self) {
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (frame === undefined) continue;
      const name = wanted.find(w => frame.functionName === w);
      if (name !== undefined && !seen.has(name)) {
        seen.add(name);
        inclusive.set(name, (inclusive.get(name) ?? 0) + ms);
      }
    }
  }
  return { totalMs, functions: top(functions, totalMs, n), files: top(files, totalMs, n), inclusive: top(inclusive, totalMs, wanted.length) };
}

export function formatProfile(title: string, summary: ProfileSummary): string {
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  const lines = [`${title}: ${summary.totalMs.toFixed(0)} ms profiled`];
  lines.push('  self time by file:');
  for (const line of summary.files) lines.push(`    ${line.ms.toFixed(0).padStart(7)} ms ${pct(line.share).padStart(6)}  ${line.name}`);
  lines.push('  self time by function:');
  for (const line of summary.functions) lines.push(`    ${line.ms.toFixed(0).padStart(7)} ms ${pct(line.share).padStart(6)}  ${line.name}`);
  if (summary.inclusive.length > 0) {
    lines.push('  inclusive time:');
    for (const line of summary.inclusive) lines.push(`    ${line.ms.toFixed(0).padStart(7)} ms ${pct(line.share).padStart(6)}  ${line.name}`);
  }
  return lines.join('\n');
}
