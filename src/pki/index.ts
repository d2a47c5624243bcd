export * from './certs.js';
