/**
 * `hsm-operator sandbox` (what `npm start` runs): the operator against a local world. The sandbox is loaded only
 * for this command, so `run` in production never loads a simulator.
 */
import { parseDuration } from '../runtime/index.js';
import { EXIT, parseFlags, str, UsageError, type Io } from './io.js';

// The CLI is the one composition root that may start the sandbox (operator code never imports it; eslint guards
// static imports). A dynamic import keeps the simulators out of `run` and `--help`.
const loadSandbox = () => import('../sandbox/run.js');

export async function sandboxHelp(): Promise<string> {
  const { SCENARIOS } = await import('../sandbox/scenarios/index.js');
  const w = Math.max(...SCENARIOS.map((s) => s.name.length));
  return [
    'Usage: hsm-operator sandbox [flags]        (npm start -- [flags])',
    '',
    'Runs a whole Dedicated HSM world on this machine: a real kube-apiserver + etcd (built with Go on first use,',
    'then cached), the CRDs, simulated Azure (ARM) with two HSMs behind an ExpressRoute gateway, their Luna',
    'appliances and a LunaCM client host, the operator in-process, and config/samples/ applied. A live table shows',
    'the resources converge; Ctrl-C tears everything down.',
    '',
    'Flags:',
    '  --scenario <name>       replay one story of the troubleshooting guide (default: default)',
    '  --exit-when-ready       exit 0 once the scenario reaches its promised end state, 1 if it does not in time',
    '  --timeout <duration>    how long the scenario may take (default 5m; e.g. 90s, 3m)',
    '  --plain                 print change lines instead of redrawing the table (default when not a terminal)',
    '  --state-dir <path>      where kubeconfig and operator.log go (default .sandbox/ in the checkout)',
    '  --kubeconfig <path>     use this cluster instead of starting a control plane (CRDs installed if missing)',
    '  -n, --namespace <ns>    namespace for the samples (default hsm-sandbox)',
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

export async function sandboxCommand(argv: string[], io: Io, interrupt?: AbortSignal): Promise<number> {
  const { values } = parseFlags(argv, {
    scenario: { type: 'string' },
    'exit-when-ready': { type: 'boolean' },
    timeout: { type: 'string' },
    plain: { type: 'boolean' },
    'state-dir': { type: 'string' },
    kubeconfig: { type: 'string' },
    namespace: { type: 'string', short: 'n' },
    'log-level': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.out(await sandboxHelp());
    return EXIT.ok;
  }
  const { runSandbox } = await loadSandbox();
  const { scenarioNamed, SCENARIOS } = await import('../sandbox/scenarios/index.js');
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
    ...(str(values, 'namespace') ? { namespace: str(values, 'namespace') } : {}),
    ...(str(values, 'state-dir') ? { stateDir: str(values, 'state-dir') } : {}),
    ...(logLevel ? { logLevel: logLevel as 'debug' } : {}),
    out,
    err: { write: (t: string) => io.err(t) },
    tty: values.plain ? false : Boolean(io.isTTY),
    ...(interrupt ? { interrupt } : {}),
  });
}
