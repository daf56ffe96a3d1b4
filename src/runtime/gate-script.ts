// The quality gate runs several checks as ONE attempt: a small node script (run with `node -e`) runs
// them one after another inside the attempt's process group, so a timeout or a crash stops them all
// and --resume finds one process identity. It writes the checks' verdicts to ORCH_RESULT_FILE.
// Each check's output is passed through as it comes and its last GATE_TAIL_LINES lines are kept for the
// agent's next attempt. A check that could not run at all (not found, not executable, an npm script that
// does not exist) is marked runnable: false: a config problem no agent attempt can fix.
export const GATE_TAIL_LINES = 60;
export const GATE_TAIL_CHARS = 8000;
export const GATE_SCRIPT = `
const { spawn } = require('node:child_process');
const { writeFileSync } = require('node:fs');
const [checks, launcher, shell, tailLines, tailChars] = JSON.parse(process.argv[1]);
const UNRUNNABLE = /npm (error|ERR!) Missing script:|: command not found|: not found$|No such file or directory/m;
(async () => {
  const results = [];
  for (const [name, argv] of checks) {
    process.stdout.write('=== check ' + name + ': ' + argv.join(' ') + '\\n');
    const started = Date.now();
    const full = [...launcher, ...argv];
    let tail = '';
    let spawnError;
    const keep = chunk => { tail = (tail + chunk.toString('utf8')).slice(-4 * tailChars); };
    const code = await new Promise(resolve => {
      const options = { stdio: ['ignore', 'pipe', 'pipe'] };
      const child = shell ? spawn(full.join(' '), { ...options, shell: true }) : spawn(full[0], full.slice(1), options);
      child.stdout.on('data', chunk => { keep(chunk); process.stdout.write(chunk); });
      child.stderr.on('data', chunk => { keep(chunk); process.stderr.write(chunk); });
      child.on('error', error => { spawnError = error; process.stderr.write(name + ': ' + error.message + '\\n'); resolve(127); });
      child.on('close', (exitCode, signal) => resolve(exitCode ?? (signal ? 128 : 1)));
    });
    const passed = code === 0;
    const lines = tail.split('\\n');
    const lastLines = lines.slice(-tailLines - 1).join('\\n').slice(-tailChars).trim();
    const runnable = passed || !(spawnError !== undefined || code === 126 || code === 127 || UNRUNNABLE.test(tail.slice(-tailChars)));
    const why = spawnError !== undefined ? spawnError.message : (lastLines.split('\\n').find(l => /error|fail|missing|not found/i.test(l)) || '');
    const message = passed ? name + ' passed' : name + (runnable ? ' failed' : ' could not run') + ' (exit ' + code + ')' + (why ? ': ' + why.trim().slice(0, 300) : '');
    results.push({ name, passed, message, ...(passed ? {} : { runnable, output_tail: lastLines }) });
    process.stdout.write('=== check ' + name + ' ' + (passed ? 'passed' : 'failed') + ' in ' + ((Date.now() - started) / 1000).toFixed(1) + 's\\n');
  }
  writeFileSync(process.env.ORCH_RESULT_FILE, JSON.stringify({ checks: results }));
  process.exit(results.every(r => r.passed) ? 0 : 1);
})();
`;

/** The argv that runs `checks` through the gate script. */
export function gateArgv(checks: Readonly<Record<string, readonly string[]>>, launcher: readonly string[], shell: boolean): string[] {
  return [process.execPath, '-e', GATE_SCRIPT, JSON.stringify([Object.entries(checks), launcher, shell, GATE_TAIL_LINES, GATE_TAIL_CHARS])];
}
