#!/usr/bin/env node
/** Entry point of `hsm-operator` (dist/main.js in the image): the command line lives in src/cli/. */
import { main } from './cli/index.js';
import { exitWith, interruptOnSignals } from './cli/process.js';

const interrupt = interruptOnSignals();
exitWith(await main(process.argv.slice(2), undefined, interrupt));
