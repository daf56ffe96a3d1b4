// The machine a run measured: benchmark figures mean little without it.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';

export interface MachineInfo {
  cpu: string;
  nproc: number;
  memGiB: number;
  kernel: string;
  node: string;
  disk: string;
  load: string;
}

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find(l => l.startsWith('model name'));
    return line?.split(':')[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
  } catch {
    return cpus()[0]?.model ?? 'unknown';
  }
}

function diskOf(dir: string): string {
  try {
    const out = execFileSync('df', ['-T', dir], { encoding: 'utf8' }).trim().split('\n').at(-1) ?? '';
    const [device, type] = out.split(/\s+/);
    return `${device} (${type})`;
  } catch {
    return 'unknown';
  }
}

export function loadAverage(): string {
  return loadavg().map(x => x.toFixed(2)).join(' ');
}

export function machineInfo(tmp: string): MachineInfo {
  let nproc = cpus().length;
  try {
    nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {
    // os.cpus() it is
  }
  return {
    cpu: cpuModel(),
    nproc,
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    disk: diskOf(tmp),
    load: loadAverage(),
  };
}

export function describeMachine(m: MachineInfo): string {
  return `${m.nproc} × ${m.cpu}, ${m.memGiB} GiB RAM, Linux ${m.kernel}, Node ${m.node}, scratch on ${m.disk}, load average at start ${m.load}`;
}
