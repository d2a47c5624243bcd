// The ForceCommand of the conformance tier's real sshd: every exec on the SSH server runs this as the logged-in
// user. scp goes to the real scp (server mode, in the user's home directory); anything else is sent to the test's
// appliance simulator over loopback (argv[2] = its port), and what the simulator answers comes back on stdout,
// stderr and the exit status. Plain JavaScript so sshd can start it with the project's own node binary.
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { Buffer } from 'node:buffer';
import process from 'node:process';

const command = process.env.SSH_ORIGINAL_COMMAND ?? '';
const port = Number(process.argv[2]);

if (/^scp( -[a-zA-Z]+)* -[tf]( -[a-zA-Z]+)* [A-Za-z0-9._-]+$/.test(command)) {
  // Server-mode scp of one plain file name, as the appliance allows (`scp file user@hsm:`, `scp user@hsm:file .`).
  const child = spawn('/usr/bin/scp', command.split(' ').slice(1), { stdio: 'inherit', cwd: process.env.HOME });
  child.on('exit', (code) => process.exit(code ?? 1));
} else {
  const sock = connect({ host: '127.0.0.1', port }, () => {
    sock.write(JSON.stringify({ user: process.env.USER ?? process.env.LOGNAME ?? '', command }) + '\n');
    process.stdin.pipe(sock);
  });
  // Frames from the simulator: 1 byte kind (1 stdout, 2 stderr, 3 exit), 4 bytes length, data.
  let buf = Buffer.alloc(0);
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 5) {
      const kind = buf[0];
      const len = buf.readUInt32BE(1);
      if (buf.length < 5 + len) break;
      const data = buf.subarray(5, 5 + len);
      buf = buf.subarray(5 + len);
      if (kind === 1) process.stdout.write(data);
      else if (kind === 2) process.stderr.write(data);
      else if (kind === 3) process.stdout.end(() => process.exit(data.readInt32BE(0)));
    }
  });
  sock.on('error', (e) => {
    process.stderr.write(`relay: ${e.message}\n`);
    process.exit(255);
  });
}
