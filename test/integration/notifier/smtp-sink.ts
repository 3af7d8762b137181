/**
 * A real SMTP server process for the e-mail tests: accepts every message on loopback and writes
 * it, raw, to `<dir>/<n>.eml`. Prints `listening <port>` once ready. Usage: smtp-sink.ts <dir>
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';

const dir = process.argv[2];
if (!dir) throw new Error('usage: smtp-sink.ts <dir>');
let count = 0;
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  onData(stream, session, callback) {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      const to = session.envelope.rcptTo.map((r) => r.address).join(',');
      writeFileSync(
        join(dir, `${String(++count).padStart(4, '0')}.eml`),
        `X-Envelope-To: ${to}\r\n${Buffer.concat(chunks)}`,
      );
      callback();
    });
  },
});
server.listen(0, '127.0.0.1', () => {
  const address = server.server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
