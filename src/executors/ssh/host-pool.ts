// Which host of the ssh pool takes the next command (specs/executors.md): a slot cap per host, the
// least loaded host first (running / slots, then the order of the config), the host of the task's
// previous attempt when it is up and has a free slot (its caches, its build dir), and never a host
// marked down. A host that could not be reached is down until its backoff has passed; then it is tried
// again by the next placement, which is also how it is found up again.
import { setTimeout as delay } from 'node:timers/promises';

/** First and longest wait before a host that could not be reached is tried again. */
export const HOST_RETRY_FIRST_MS = 1000;
export const HOST_RETRY_MAX_MS = 60_000;

export interface PoolHost {
  readonly name: string;
  readonly slots: number;
}

interface HostState extends PoolHost {
  running: number;
  /** Consecutive failures to reach it; 0 while it is up. */
  failures: number;
  /** Epoch ms before which it is not tried (while down). */
  downUntil: number;
  lastError: string | undefined;
}

/** A slot held on a host: give it back exactly once. */
export interface Lease {
  readonly host: string;
  release(): void;
}

export interface HostPoolView {
  name: string;
  slots: number;
  running: number;
  down: boolean;
  lastError: string | undefined;
}

export class HostPool {
  private readonly hosts: HostState[];
  private readonly now: () => number;
  /** Woken when a slot frees or a host may be tried again. */
  private waiters = new Set<() => void>();

  constructor(hosts: readonly PoolHost[], now: () => number = Date.now) {
    this.hosts = hosts.map(host => ({ ...host, running: 0, failures: 0, downUntil: 0, lastError: undefined }));
    this.now = now;
  }

  /**
   * A slot on the best host now, or undefined when every host is full or down. `preferred` (the host
   * of the task's last attempt) wins while it is up and has a free slot.
   */
  tryAcquire(preferred?: string): Lease | undefined {
    const now = this.now();
    const open = this.hosts.filter(host => host.running < host.slots && host.downUntil <= now);
    const sticky = open.find(host => host.name === preferred);
    let best = sticky;
    for (const host of sticky === undefined ? open : []) {
      if (best === undefined || host.running / host.slots < best.running / best.slots) best = host;
    }
    return best === undefined ? undefined : this.lease(best);
  }

  /**
   * A slot on `name` whatever its load or state: for a command that runs there already (one a dead run
   * started, followed by --resume). The host's other slots stay counted right.
   */
  hold(name: string): Lease {
    return this.lease(this.find(name));
  }

  private lease(host: HostState): Lease {
    host.running += 1;
    let released = false;
    return {
      host: host.name,
      release: () => {
        if (released) return;
        released = true;
        host.running -= 1;
        this.wakeAll();
      },
    };
  }

  /** Waits for a slot (a host freeing one, or a down host's backoff passing); rejects when `signal` aborts. */
  async acquire(preferred: string | undefined, signal: AbortSignal): Promise<Lease> {
    for (;;) {
      signal.throwIfAborted();
      const lease = this.tryAcquire(preferred);
      if (lease !== undefined) return lease;
      await this.changeOrRetryTime(signal);
    }
  }

  /** The host could not be reached: not tried again before its backoff has passed. */
  markDown(name: string, error: string): void {
    const host = this.find(name);
    host.failures += 1;
    host.lastError = error;
    host.downUntil = this.now() + Math.min(HOST_RETRY_MAX_MS, HOST_RETRY_FIRST_MS * 2 ** (host.failures - 1));
  }

  /** The host answered. */
  markUp(name: string): void {
    const host = this.find(name);
    const wasDown = host.failures > 0;
    host.failures = 0;
    host.downUntil = 0;
    host.lastError = undefined;
    if (wasDown) this.wakeAll();
  }

  isDown(name: string): boolean {
    return this.find(name).failures > 0;
  }

  view(): HostPoolView[] {
    return this.hosts.map(host => ({ name: host.name, slots: host.slots, running: host.running, down: host.failures > 0, lastError: host.lastError }));
  }

  private find(name: string): HostState {
    const host = this.hosts.find(candidate => candidate.name === name);
    if (host === undefined) throw new Error(`no host ${name} in the ssh pool`);
    return host;
  }

  private wakeAll(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }

  /** Resolves when a slot frees, a host comes up, or the earliest down host may be tried again. */
  private async changeOrRetryTime(signal: AbortSignal): Promise<void> {
    const now = this.now();
    const retryAt = Math.min(...this.hosts.filter(host => host.downUntil > now).map(host => host.downUntil));
    const timer = new AbortController();
    const abort = (): void => timer.abort();
    signal.addEventListener('abort', abort, { once: true });
    let wake: () => void = () => undefined;
    const woken = new Promise<void>(resolve => (wake = resolve));
    this.waiters.add(wake);
    try {
      const waits: Promise<unknown>[] = [woken, new Promise(resolve => signal.addEventListener('abort', resolve, { once: true }))];
      if (Number.isFinite(retryAt)) waits.push(delay(retryAt - now, undefined, { signal: timer.signal }).catch(() => undefined));
      await Promise.race(waits);
    } finally {
      this.waiters.delete(wake);
      signal.removeEventListener('abort', abort);
      timer.abort();
    }
  }
}
