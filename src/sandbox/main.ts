/**
 * Entry point of the sandbox: `npm start` runs `tsx src/sandbox/main.ts`. Not part of the operator: the production
 * build and the image leave src/sandbox/ out (docs/sandbox.md).
 */
import { processIo } from '../cli/io.js';
import { exitWith, interruptOnSignals } from '../cli/process.js';
import { sandboxMain } from './cli.js';

const interrupt = interruptOnSignals();
exitWith(await sandboxMain(process.argv.slice(2), processIo(), interrupt));
