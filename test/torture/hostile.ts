// The hostile-input corpus (no tests of its own), shared by test/torture/hostile-input.ts: files
// dropped into tasks/ that must each be refused with a message naming them (or, for the few that are
// fine, run), never followed outside the state dir, never hanging or crashing the orchestrator.
// A fixed corpus plus a small seeded generator of broken JSON (fast-check is not a dependency).
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import type { KnownBug } from './known-bugs.js';
import { seededRandom } from './workload.js';

export interface HostileFile {
  /** What it is, for messages. */
  what: string;
  /** The name in tasks/ (a Buffer for names that are not UTF-8). */
  name: string | Buffer;
  /** What the run log or `orch validate` must show to count as "refused with a clear message". */
  message: RegExp;
  /** The file is fine after all (a BOM is dropped): it must run, not be refused. */
  runs?: boolean;
  /** A generated file that may or may not be valid: it must either run or be refused. */
  maybeValid?: boolean;
  /** Accepted although it should be refused: a known bug (test/torture/known-bugs.ts). */
  knownBug?: KnownBug;
  /** Creates it in `tasks`; `outside` is a folder beside the project a symlink may point into. */
  make(tasks: string, outside: string): Promise<void> | void;
}

const json = (name: string, what: string, text: string | Buffer, message: RegExp, extra: Partial<HostileFile> = {}): HostileFile => ({
  what,
  name,
  message,
  make: tasks => writeFileSync(join(tasks, name), text),
  ...extra,
});

/** Sockets made for the corpus, to close in teardown. */
export const servers: Server[] = [];

export const CORPUS: HostileFile[] = [
  json('id-dotdot.json', 'an id with ../', '{"id":"../../evil","goal":"x"}', /id-dotdot\.json/),
  json('id-slash.json', 'an id with /', '{"id":"a/b","goal":"x"}', /id-slash\.json/),
  json('id-nul.json', 'an id with NUL', '{"id":"a\\u0000b","goal":"x"}', /id-nul\.json/),
  json('id-newline.json', 'an id with a newline', '{"id":"a\\nb","goal":"x"}', /id-newline\.json/),
  json('id-long.json', 'a 300-character id', JSON.stringify({ id: 'a'.repeat(300), goal: 'x' }), /id-long\.json/),
  json('id-lookalike.json', 'a look-alike Unicode id (Cyrillic Т)', '{"id":"\u0422001","goal":"x"}', /id-lookalike\.json/),
  json('\u0422ask.json', 'a look-alike Unicode file name', '{"goal":"x"}', /\u0422ask\.json/),
  json('new\nline.json', 'a file name with a newline', '{"goal":"x"}', /new.{1,4}line\.json/),
  json(`${'x'.repeat(245)}.json`, 'a 245-character file name (an id too long)', '{"goal":"x"}', /x{60}/),
  {
    what: 'a file name that is not UTF-8',
    name: Buffer.concat([Buffer.from('bad-'), Buffer.from([0xff, 0xfe]), Buffer.from('.json')]),
    message: /bad-.*the file name is not valid UTF-8/,
    make: tasks => writeFileSync(Buffer.concat([Buffer.from(`${tasks}/bad-`), Buffer.from([0xff, 0xfe]), Buffer.from('.json')]), '{"goal":"x"}'),
  },
  {
    what: 'a symlink to a valid spec outside the state dir',
    name: 'link-outside.json',
    message: /link-outside\.json/,
    make: (tasks, outside) => symlinkSync(join(outside, 'secret.json'), join(tasks, 'link-outside.json')),
  },
  { what: 'a symlink to /dev/zero', name: 'zero.json', message: /zero\.json/, make: tasks => symlinkSync('/dev/zero', join(tasks, 'zero.json')) },
  {
    what: 'a FIFO',
    name: 'fifo.json',
    message: /fifo\.json/,
    make: tasks => {
      const made = spawnSync('mkfifo', [join(tasks, 'fifo.json')]);
      if (made.status !== 0) throw new Error(`mkfifo: ${String(made.stderr)}`);
    },
  },
  {
    what: 'a socket',
    name: 'socket.json',
    message: /socket\.json/,
    make: async tasks => {
      // A socket path is limited to 108 bytes: bind it in a short dir, then move it into place.
      const short = mkdtempSync(join(tmpdir(), 'orch-sock-'));
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(join(short, 's'), () => resolve());
      });
      renameSync(join(short, 's'), join(tasks, 'socket.json'));
      rmSync(short, { recursive: true, force: true });
      if (!lstatSync(join(tasks, 'socket.json')).isSocket()) throw new Error('socket.json is not a socket');
    },
  },
  { what: 'a directory named x.json', name: 'dir.json', message: /dir\.json/, make: tasks => mkdirSync(join(tasks, 'dir.json')) },
  {
    what: 'a 100 MB file',
    name: 'big.json',
    message: /big\.json/,
    make: tasks => writeFileSync(join(tasks, 'big.json'), Buffer.concat([Buffer.from('{"goal":"'), Buffer.alloc(100 * 1024 * 1024, 0x61), Buffer.from('"}')])),
  },
  {
    what: 'a sparse 10 GB file',
    name: 'sparse.json',
    message: /sparse\.json/,
    make: tasks => {
      writeFileSync(join(tasks, 'sparse.json'), '{"goal":"');
      truncateSync(join(tasks, 'sparse.json'), 10 * 1024 ** 3);
    },
  },
  json('nested.json', '1,000,000 nested brackets', `${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}`, /nested\.json/),
  json('nested-objects.json', '100,000 nested objects', `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`, /nested-objects\.json/),
  json('binary.json', 'binary bytes', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256)), /binary\.json/),
  json('latin1.json', 'invalid UTF-8', Buffer.concat([Buffer.from('{"goal":"caf'), Buffer.from([0xe9, 0xff]), Buffer.from('"}')]), /latin1\.json/),
  json('bom.json', 'a UTF-8 BOM before valid JSON', '\ufeff{"goal":"a spec saved by Notepad","workflow":"quick","env":{"TORTURE_KIND":"ok"}}', /bom/, { runs: true }),
  json('dup-keys.json', 'duplicate keys', '{"goal":"first","goal":"second","workflow":"quick"}', /dup-keys\.json/),
  json('proto.json', 'a __proto__ key', '{"goal":"x","__proto__":{"polluted":true}}', /proto\.json/),
  // An env variable named __proto__ is a legal name: the spec runs, and its command gets the variable.
  json('proto-env.json', 'a __proto__ key in env', '{"goal":"x","workflow":"quick","env":{"__proto__":"x"}}', /proto-env/, { runs: true }),
  json('big-number.json', 'a number past 2^53', '{"goal":"x","priority":9007199254740993}', /big-number\.json/),
  json('infinity.json', 'a number that overflows to Infinity', '{"goal":"x","timeout_s":1e400}', /infinity\.json/),
  json('future.json', 'a version from the future', '{"version":99,"goal":"x"}', /future\.json.*99|99.*future\.json/),
  json('empty.json', 'an empty file', '', /empty\.json/),
  json('blank.json', 'whitespace only', ' \n\t\n', /blank\.json/),
  json('array.json', 'an array instead of an object', '[{"goal":"x"}]', /array\.json/),
  // A long goal is no attack: it runs (the run log shortens it).
  json('long-goal.json', 'a 30,000-character goal', JSON.stringify({ goal: 'g'.repeat(30_000), workflow: 'quick' }), /long-goal/, { runs: true }),
];

/**
 * `count` random mutations of a valid spec (a byte changed, the text cut, a slice repeated, a special
 * byte inserted), seeded: the same seed makes the same files. A mutation may still be a valid spec: it
 * must then run; otherwise be refused with a message naming it.
 */
export function generatedSpecs(count: number, seed: number): HostileFile[] {
  const random = seededRandom(seed);
  const valid = Buffer.from(JSON.stringify({ goal: 'generated', workflow: 'quick', priority: 1, env: { TORTURE_KIND: 'ok' } }));
  const pick = (n: number): number => Math.floor(random() * n);
  const files: HostileFile[] = [];
  for (let i = 0; i < count; i++) {
    const at = pick(valid.length);
    let text: Buffer;
    switch (pick(4)) {
      case 0:
        text = Buffer.from(valid);
        text[at] = pick(256);
        break;
      case 1:
        text = valid.subarray(0, at);
        break;
      case 2: {
        const slice = valid.subarray(at, at + 1 + pick(8));
        text = Buffer.concat([valid.subarray(0, at), slice, slice, slice, valid.subarray(at)]);
        break;
      }
      default:
        text = Buffer.concat([valid.subarray(0, at), Buffer.from([[0x00, 0x22, 0x5c, 0x7b, 0x5d, 0x0a][pick(6)] ?? 0]), valid.subarray(at)]);
    }
    const name = `gen-${String(i).padStart(3, '0')}.json`;
    files.push(json(name, `generated mutation ${i}`, text, new RegExp(name.replace('.', '\\.')), { maybeValid: true }));
  }
  return files;
}
