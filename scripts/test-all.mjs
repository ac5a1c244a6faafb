#!/usr/bin/env node
/**
 * `npm test`: every check runs, whichever fails, and the exit code is non-zero if any did, with a
 * summary of which. The static checks and the synth run beside the test suite (at a lower CPU
 * priority, so timing-sensitive tests keep the cores they need); their output is printed in one
 * block each when they finish, so it does not interleave with the suite's.
 *
 * `cfn-lint` runs once `synth` has written both stages' templates (cdk.out, cdk.out.prod; the rules
 * and the reasons for ignored warnings are in .cfnlintrc.yaml); when synth fails it is not run.
 *
 * Usage: node scripts/test-all.mjs [step ...]   (steps: typecheck, lint, vitest, synth, cfn-lint; default all)
 */
import { spawn } from 'node:child_process';

const steps = [
  { name: 'typecheck', command: 'npm run --silent typecheck', background: true },
  { name: 'lint', command: 'npm run --silent lint', background: true },
  { name: 'synth', command: 'npm run --silent synth && npm run --silent synth:prod', background: true },
  {
    name: 'cfn-lint',
    command: `sh -c 'command -v cfn-lint >/dev/null || { echo "cfn-lint is not on PATH: pip install cfn-lint"; exit 127; }; exec cfn-lint'`,
    background: true,
    after: 'synth',
  },
  { name: 'vitest', command: 'npx vitest run --coverage', background: false },
];

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !steps.some((step) => step.name === name));
if (unknown.length > 0) {
  console.error(`Unknown step(s): ${unknown.join(', ')}; known: ${steps.map((s) => s.name).join(', ')}`);
  process.exit(2);
}
const chosen = wanted.length === 0 ? steps : steps.filter((step) => wanted.includes(step.name));

/** Runs one step; background steps are niced and buffered, the foreground one streams. */
function run(step) {
  const started = Date.now();
  const command = step.background && process.platform !== 'win32' ? `nice -n 10 ${step.command}` : step.command;
  return new Promise((resolve) => {
    const child = spawn(command, {
      shell: true,
      stdio: step.background ? ['ignore', 'pipe', 'pipe'] : 'inherit',
    });
    const output = [];
    child.stdout?.on('data', (chunk) => output.push(chunk));
    child.stderr?.on('data', (chunk) => output.push(chunk));
    const finish = (code) => {
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      if (step.background) {
        process.stdout.write(`\n── ${step.name} (exit ${code}, ${seconds} s) ──\n`);
        process.stdout.write(Buffer.concat(output));
      }
      resolve({ name: step.name, code, seconds });
    };
    child.on('error', (error) => {
      output.push(Buffer.from(`${error.message}\n`));
      finish(127);
    });
    child.on('close', (code, signal) => finish(code ?? (signal ? 128 : 1)));
  });
}

/** A step whose `after` step failed: reported failed, not run. */
function skipped(step) {
  process.stdout.write(`\n── ${step.name} (not run: ${step.after} failed) ──\n`);
  return { name: step.name, code: 1, seconds: '0.0' };
}

/** Starts every chosen step; one with `after` waits for that step (when chosen) and runs only if it passed. */
const started = new Map();
for (const step of chosen) {
  const before = step.after === undefined ? undefined : started.get(step.after);
  started.set(
    step.name,
    before === undefined ? run(step) : before.then((first) => (first.code === 0 ? run(step) : skipped(step))),
  );
}
const results = await Promise.all(started.values());
const failed = results.filter((result) => result.code !== 0);
console.log('\nnpm test summary:');
for (const result of results) {
  console.log(`  ${result.code === 0 ? 'ok    ' : 'FAILED'} ${result.name} (${result.seconds} s, exit ${result.code})`);
}
console.log(failed.length === 0 ? 'All steps passed.' : `Failed: ${failed.map((r) => r.name).join(', ')}`);
process.exit(failed.length === 0 ? 0 : 1);
