/** The `hsm-operator` command line: dispatch to one command, turn failures into messages on stderr and exit codes. */
import { clusterConfigured, SANDBOX_HINT } from './cluster.js';
import { explainFailureCommand } from './explain-failure.js';
import { CliError, EXIT, processIo, UsageError, type Io } from './io.js';
import { planCommand } from './plan.js';
import { requestCommand } from './request.js';
import { runCommand } from './run.js';
import { statusCommand } from './status.js';
import { versionCommand } from './version.js';

interface Command {
  summary: string;
  run(argv: string[], io: Io, interrupt: AbortSignal): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  run: { summary: 'run the operator against a cluster (in-cluster ServiceAccount or kubeconfig)', run: (a, io, i) => runCommand(a, io, i) },
  status: { summary: 'show every HSM resource: READY, REASON, key fields and conditions', run: (a, io) => statusCommand(a, io) },
  'explain-failure': { summary: "explain why a resource is not Ready, with the troubleshooting guide's advice", run: (a, io) => explainFailureCommand(a, io) },
  plan: { summary: 'show what the operator would do with manifests before they are applied (writes nothing)', run: (a, io, i) => planCommand(a, io, i) },
  request: { summary: 'ask for one action (resync, repush, recover): sets its trigger annotation to a fresh value', run: (a, io) => requestCommand(a, io) },
  version: { summary: 'print the version', run: (a, io) => versionCommand(a, io) },
};

export function mainHelp(): string {
  const w = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'hsm-operator - Kubernetes operator for Azure Dedicated HSM (Thales Luna 7 network HSMs)',
    '',
    'Usage: hsm-operator <command> [flags]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(w)}  ${c.summary}`),
    '',
    'Without a command: run, when a cluster is configured (in-cluster, $KUBECONFIG or ~/.kube/config).',
    `To try the operator on this machine without a cluster: ${SANDBOX_HINT}.`,
    "'hsm-operator <command> --help' shows a command's flags.",
    '',
    'Exit codes: 0 ok, 1 failure, 2 usage error.',
    '',
  ].join('\n');
}

/** Runs the command line; returns the exit code. `interrupt` aborts on Ctrl-C (`run` drains and releases the Lease). */
export async function main(argv: string[], io: Io = processIo(), interrupt: AbortSignal = new AbortController().signal): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--help' || first === '-h' || first === 'help') {
    const cmd = rest[0];
    if (cmd && COMMANDS[cmd]) return COMMANDS[cmd].run(['--help'], io, interrupt);
    io.out(mainHelp());
    return EXIT.ok;
  }
  if (first === '--version') return versionCommand([], io);
  let name: string;
  let args: string[];
  if (first === undefined || first.startsWith('-')) {
    if (!clusterConfigured(io.env)) {
      io.err(`hsm-operator: no command given and no cluster configured; to try the operator on this machine, ${SANDBOX_HINT}.\n\n${mainHelp()}`);
      return EXIT.usage;
    }
    name = 'run';
    args = argv;
    io.err(`hsm-operator: no command given; a cluster is configured, so: run ('hsm-operator --help' lists the commands)\n`);
  } else {
    name = first;
    args = rest;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.err(`hsm-operator: unknown command "${name}"\n\n${mainHelp()}`);
    return EXIT.usage;
  }
  try {
    return await command.run(args, io, interrupt);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`hsm-operator ${name}: ${e.message}\nRun 'hsm-operator ${name} --help' for usage.\n`);
      return EXIT.usage;
    }
    io.err(`hsm-operator ${name}: ${e instanceof CliError || e instanceof Error ? e.message : String(e)}\n`);
    return EXIT.failure;
  }
}
