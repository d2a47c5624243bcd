/** `hsm-operator version`. */
import { API_VERSION } from '../api/index.js';
import { EXIT, parseFlags, type Io } from './io.js';
import { packageVersion } from './paths.js';

export const VERSION_HELP = 'Usage: hsm-operator version\n\nPrints the operator version, the API version it serves and the Node.js runtime.\n';

export async function versionCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseFlags(argv, { help: { type: 'boolean', short: 'h' } });
  if (values.help) {
    io.out(VERSION_HELP);
    return EXIT.ok;
  }
  io.out(`hsm-operator ${packageVersion()} (API ${API_VERSION}, Node.js ${process.versions.node})\n`);
  return EXIT.ok;
}
