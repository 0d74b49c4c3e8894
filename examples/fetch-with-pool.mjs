// fetch() whose new connections come from a ConnectionSource before a plain connect.
//
//   npm run build && node examples/fetch-with-pool.mjs http://127.0.0.1:8080/
//
// With no pool manager at hand, the source below pre-connects ordinary sockets: it
// shows the seam (acquire / reportDead / accelerated) the SYN pool plugs into.
// undici's fetch is used so the dispatcher and fetch come from the same undici.
import net from 'node:net';
import { fetch, setGlobalDispatcher } from 'undici';
import { createAcceleratedAgent } from '../dist/src/index.js';

const url = new URL(process.argv[2] ?? 'http://127.0.0.1:8080/');

/** A stand-in pool: a few sockets connected ahead of time to one IPv4 upstream. */
class PreconnectedSource {
  accelerated = true;
  #ready = [];
  warm(target, n) {
    for (let i = 0; i < n; i++) {
      const socket = net.connect(target.port, target.address);
      socket.on('error', () => {}); // a socket that dies while idle is just not handed out
      this.#ready.push(socket);
    }
  }
  acquire(target) {
    // The real pool hands out sockets that are already established; skip any that died.
    while (this.#ready.length > 0) {
      const s = this.#ready.shift();
      if (!s.destroyed && s.remotePort === target.port) return s;
    }
    return undefined;
  }
  reportDead(target) {
    console.error(`pooled connection to ${target.address}:${target.port} was dead`);
  }
  close() {
    for (const s of this.#ready) s.destroy();
  }
}

const source = new PreconnectedSource();
source.warm({ address: url.hostname, port: Number(url.port || 80) }, 2);
await new Promise((r) => setTimeout(r, 50)); // let the stand-in connects finish

const agent = createAcceleratedAgent({ source, connectTimeoutMs: 3000 });
agent.events.on('connection', (e) => console.error(`request went out on a ${e.connection} connection`));
agent.events.on('fallback', (e) => console.error(`fallback: ${e.reason}`));
setGlobalDispatcher(agent);

for (let i = 0; i < 3; i++) {
  const res = await fetch(url);
  console.log(res.status, (await res.text()).length, 'bytes');
}

await agent.close();
source.close();
