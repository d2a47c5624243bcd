/**
 * The sandbox's command line (`npm start -- [flags]`): the operator against a local world. Not part of the operator:
 * the production build (tsconfig.build.json) and the image leave src/sandbox/ out, and `hsm-operator` has no sandbox
 * command. The sandbox imports what it shares with the operator's CLI (src/cli/io.ts, paths.ts, resources.ts), never
 * the other way round.
 */
import { CliError, EXIT, parseFlags, str, UsageError, type Io } from '../cli/io.js';
import { parseDuration } from '../runtime/index.js';
import { runSandbox } from './run.js';
import { scenarioNamed, SCENARIOS } from './scenarios/index.js';

export function sandboxHelp(): string {
  const w = Math.max(...SCENARIOS.map((s) => s.name.length));
  return [
    'Usage: npm start -- [flags]        (tsx src/sandbox/main.ts [flags])',
    '',
    'Runs a whole Dedicated HSM world on this machine: a real kube-apiserver + etcd (built with Go on first use,',
    'then cached), the CRDs, simulated Azure (ARM) with two HSMs behind an ExpressRoute gateway, their Luna',
    'appliances and a LunaCM client host, the operator in-process, and config/samples/ applied: the platform team\'s',
    'namespace (HSMs, HA group, the HsmGrant for app team A) first, then app team A\'s (its NTLS clients, bound',
    'across namespaces under that grant). A live table shows the resources converge; Ctrl-C tears everything down.',
    '',
    'Flags:',
    '  --scenario <name>       replay one story of the troubleshooting guide (default: default)',
    '  --exit-when-ready       exit 0 once the scenario reaches its promised end state, 1 if it does not in time',
    '  --timeout <duration>    how long the scenario may take (default 5m; e.g. 90s, 3m)',
    '  --plain                 print change lines instead of redrawing the table (default when not a terminal)',
    '  --state-dir <path>      where kubeconfig and operator.log go (default .sandbox/ in the checkout)',
    '  --kubeconfig <path>     use this cluster instead of starting a control plane (CRDs installed if missing)',
    '  --platform-namespace <ns>',
    '                          the platform team\'s namespace: HSMs, grant, HA group (default hsm-platform)',
    '  --app-namespace <ns>    app team A\'s namespace: its NtlsClientBindings (default hsm-app-a)',
    '  --log-level <level>     operator log level in operator.log (default debug)',
    '  -h, --help              show this help',
    '',
    'Scenarios:',
    ...SCENARIOS.map((s) => `  ${s.name.padEnd(w)}  ${s.title}\n  ${''.padEnd(w)}  guide: ${s.guideSection}`),
    '',
    'Exit codes: 0 promise reached (or stopped with Ctrl-C after it), 1 not reached / failed to start, 2 usage, 130 interrupted before.',
    '',
  ].join('\n');
}

async function sandboxCommand(argv: string[], io: Io, interrupt?: AbortSignal): Promise<number> {
  const { values } = parseFlags(argv, {
    scenario: { type: 'string' },
    'exit-when-ready': { type: 'boolean' },
    timeout: { type: 'string' },
    plain: { type: 'boolean' },
    'state-dir': { type: 'string' },
    kubeconfig: { type: 'string' },
    'platform-namespace': { type: 'string' },
    'app-namespace': { type: 'string' },
    'log-level': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.out(sandboxHelp());
    return EXIT.ok;
  }
  const scenario = str(values, 'scenario') ?? 'default';
  if (!scenarioNamed(scenario)) throw new UsageError(`unknown scenario "${scenario}"; one of: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  let timeoutMs: number | undefined;
  const timeout = str(values, 'timeout');
  if (timeout) {
    try {
      timeoutMs = parseDuration(timeout, '--timeout');
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  const logLevel = str(values, 'log-level');
  if (logLevel && !['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(logLevel)) throw new UsageError(`--log-level: ${logLevel} is not a log level`);
  const out = { write: (t: string) => io.out(t), ...(io.columns ? { columns: io.columns } : {}) };
  return runSandbox({
    scenario,
    exitWhenReady: values['exit-when-ready'] === true,
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(str(values, 'kubeconfig') ? { kubeconfig: str(values, 'kubeconfig') } : {}),
    namespaces: { ...(str(values, 'platform-namespace') ? { platform: str(values, 'platform-namespace') } : {}), ...(str(values, 'app-namespace') ? { app: str(values, 'app-namespace') } : {}) },
    ...(str(values, 'state-dir') ? { stateDir: str(values, 'state-dir') } : {}),
    ...(logLevel ? { logLevel: logLevel as 'debug' } : {}),
    out,
    err: { write: (t: string) => io.err(t) },
    tty: values.plain ? false : Boolean(io.isTTY),
    ...(interrupt ? { interrupt } : {}),
  });
}

/** Runs the sandbox's command line; returns the exit code (usage errors 2, failures 1, as `hsm-operator` does). */
export async function sandboxMain(argv: string[], io: Io, interrupt?: AbortSignal): Promise<number> {
  try {
    return await sandboxCommand(argv, io, interrupt);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`sandbox: ${e.message}\nRun 'npm start -- --help' for usage.\n`);
      return EXIT.usage;
    }
    io.err(`sandbox: ${e instanceof CliError || e instanceof Error ? e.message : String(e)}\n`);
    return EXIT.failure;
  }
}
