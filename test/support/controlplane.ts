/** The control plane the tests run against lives with the sandbox, which starts the same one for `npm start`. */
export * from '../../src/sandbox/controlplane/controlplane.js';
