// stall.mjs - what a readiness probe sees across an event-loop stall.
//
// readyzAcrossStall(proc, url) opens a connection to `url`'s listener
// (accepted while the process runs), stops the process (SIGSTOP), sends
// `GET /readyz` into the stopped loop, waits 3.5 s, resumes it (SIGCONT)
// and resolves with the raw HTTP reply.  The request is read only once the
// loop turns again, so a process follows the rule of common/loop_watch.h
// when that reply is 503 "event loop stalled".
import { once } from 'node:events';
import net from 'node:net';
import { sleep } from './stack.mjs';

export async function readyzAcrossStall(proc, url) {
  const { port } = new URL(url);
  const sock = net.createConnection({ port: Number(port), host: '127.0.0.1' });
  await once(sock, 'connect');
  await sleep(200); // accepted by the loop before it stops
  let text = '';
  sock.on('data', (d) => { text += d; });
  proc.kill('SIGSTOP');
  try {
    sock.write('GET /readyz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n');
    await sleep(3500);
  } finally {
    proc.kill('SIGCONT');
  }
  await Promise.race([once(sock, 'end'), sleep(5000)]);
  sock.destroy();
  return text;
}
