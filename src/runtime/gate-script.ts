// The quality gate runs several checks as ONE attempt: a small node script (run with `node -e`) runs
// them one after another inside the attempt's process group, so a timeout or a crash stops them all
// and --resume finds one process identity. It writes the checks' verdicts to ORCH_RESULT_FILE.
export const GATE_SCRIPT = `
const { spawn } = require('node:child_process');
const { writeFileSync } = require('node:fs');
const [checks, launcher, shell] = JSON.parse(process.argv[1]);
(async () => {
  const results = [];
  for (const [name, argv] of checks) {
    process.stdout.write('=== check ' + name + ': ' + argv.join(' ') + '\\n');
    const started = Date.now();
    const full = [...launcher, ...argv];
    const code = await new Promise(resolve => {
      const child = shell
        ? spawn(full.join(' '), { stdio: 'inherit', shell: true })
        : spawn(full[0], full.slice(1), { stdio: 'inherit' });
      child.on('error', error => { process.stderr.write(name + ': ' + error.message + '\\n'); resolve(127); });
      child.on('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 128 : 1)));
    });
    const passed = code === 0;
    results.push({ name, passed, message: passed ? name + ' passed' : name + ' failed (exit ' + code + ')' });
    process.stdout.write('=== check ' + name + ' ' + (passed ? 'passed' : 'failed') + ' in ' + ((Date.now() - started) / 1000).toFixed(1) + 's\\n');
  }
  writeFileSync(process.env.ORCH_RESULT_FILE, JSON.stringify({ checks: results }));
  process.exit(results.every(r => r.passed) ? 0 : 1);
})();
`;

/** The argv that runs `checks` through the gate script. */
export function gateArgv(checks: Readonly<Record<string, readonly string[]>>, launcher: readonly string[], shell: boolean): string[] {
  return [process.execPath, '-e', GATE_SCRIPT, JSON.stringify([Object.entries(checks), launcher, shell])];
}
