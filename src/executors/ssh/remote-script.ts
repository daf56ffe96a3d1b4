// The shell text that starts one attempt on a host, sent on ssh's stdin to `sh -s` (specs/executors.md):
// one round trip puts the attempt's files in its spool folder, sets its environment and hands the
// command to the spool wrapper, which prints the command's process group. On stdin rather than on the
// command line: a remote command line is one argument of the login shell, and Linux caps one argument
// at 128 KiB, less than a long prompt.
import { shellQuote } from '../../cli/format/text.js';
import { shPath } from './ssh-argv.js';

/** Exit codes of the start script that are not the wrapper's. */
export const START_EXIT = {
  /** The host's workdir does not exist or cannot be entered: a config problem. */
  noWorkdir: 97,
  /** The wrapper is not on the host yet: orch copies it and starts again. */
  noWrapper: 98,
  /** The spool folder could not be made (a full disk, permissions). */
  noSpool: 96,
} as const;

export interface StartScript {
  /** The host's workdir (absolute, or relative to the login folder). */
  workdir: string;
  /** The wrapper (absolute, or relative to workdir). */
  wrapper: string;
  /** The attempt's spool folder (absolute, or relative to workdir). */
  spool: string;
  /** Shell lines run last before the command starts, in the folder where it is to run (a `cd`). */
  prelude?: readonly string[];
  /** `<run id>/<task>/<generation>/<attempt>`: written with the exit code, compared when it is read. */
  attemptId: string;
  /** Variables to export (names must be shell names; values any text). */
  env: Readonly<Record<string, string>>;
  /** Files put in the spool folder before the command starts: name → content. */
  files: Readonly<Record<string, string | Buffer>>;
  argv: readonly string[];
}

const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SPOOL_FILE = /^[A-Za-z0-9._-]+$/;
const NEWLINE = Buffer.from('\n');

/** The script as bytes: the files go in as they are, the rest is UTF-8. */
export function startScript(start: StartScript): Buffer {
  const lines: (string | Buffer)[] = [
    `cd ${shPath(start.workdir)} || exit ${START_EXIT.noWorkdir}`,
    `[ -f ${shellQuote(start.wrapper)} ] || exit ${START_EXIT.noWrapper}`,
    `spool=${shellQuote(start.spool)}`,
    `mkdir -p "$spool" || exit ${START_EXIT.noSpool}`,
  ];
  for (const [name, content] of Object.entries(start.files)) {
    if (!SPOOL_FILE.test(name)) throw new Error(`not a spool file name: ${name}`);
    const bytes = typeof content === 'string' ? Buffer.from(content) : content;
    if (!bytes.includes(0)) {
      // The shell's own printf: no process started for it (a fork and an exec per file are most of a
      // dispatch's cost on the host). Shell words cannot hold a NUL, hence the other way below.
      lines.push(Buffer.concat([Buffer.from("printf '%s' "), quotedBytes(bytes), Buffer.from(` >"$spool/${name}" || exit ${START_EXIT.noSpool}`)]));
      continue;
    }
    // A NUL cannot pass through a shell script at all: such a file travels as base64 (an underscore is
    // no base64 character, so the delimiter cannot occur in it).
    const encoded = bytes.toString('base64').replace(/.{1,76}/g, '$&\n');
    lines.push(`base64 -d >"$spool/${name}" <<'ORCH_EOF' || exit ${START_EXIT.noSpool}`, `${encoded}ORCH_EOF`);
  }
  for (const [name, value] of Object.entries(start.env)) lines.push(`export ${shellName(name)}=${shellQuote(value)}`);
  lines.push(...(start.prelude ?? []));
  lines.push(`exec sh ${shellQuote(start.wrapper)} start "$spool" ${shellQuote(start.attemptId)} -- ${start.argv.map(shellQuote).join(' ')}`);
  return Buffer.concat(lines.flatMap(line => [typeof line === 'string' ? Buffer.from(line) : line, NEWLINE]));
}

/** `bytes` as one single-quoted shell word, byte for byte (a quote closes, is escaped, and reopens). */
function quotedBytes(bytes: Buffer): Buffer {
  const parts: Buffer[] = [Buffer.from("'")];
  let from = 0;
  for (let at = bytes.indexOf(0x27); at !== -1; at = bytes.indexOf(0x27, from)) {
    parts.push(bytes.subarray(from, at), Buffer.from("'\\''"));
    from = at + 1;
  }
  parts.push(bytes.subarray(from), Buffer.from("'"));
  return Buffer.concat(parts);
}

function shellName(name: string): string {
  if (!SHELL_NAME.test(name)) throw new Error(`not a variable name the host's shell can export: ${name}`);
  return name;
}
