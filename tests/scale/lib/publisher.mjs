// publisher.mjs - a steady publisher with fail-over, for the scale test.
//
// Publishes `rate` messages/s (single POST /v2/publish/<dest>, keep-alive
// connections) round-robin to the coordinators in `targets` (objects whose
// `url` may change when a coordinator is replaced).  Every message has a
// sequence number `seq`, forwarded to the endpoint as X-Seq (with X-Phase
// and X-Sent-Ms), and an Upstash-Deduplication-Id of its own, so a retried
// publish whose first attempt was stored (the answer lost with a killed
// coordinator or Redis going away) is not stored twice.
//
// On a connection error, a timeout or a 5xx the same message is retried at
// once on the next coordinator; when it has failed on every coordinator
// ("failed everywhere") it backs off (50 ms doubling to 1 s) and goes round
// again, until it is acknowledged or `giveUpMs` passes (then it counts as
// given up).  A 4xx is a bug: counted as rejected, not retried.
//
// stats(): {issued, acked, retried (acked after at least one failed attempt),
//   failedEverywhere (messages that failed on every coordinator at least
//   once), attemptsFailed, givenUp, rejected, maxAckMs, errors (a sample),
//   failedEverywhereSpans: [{from, to}] (when such failures happened)}.
// acked: Map seq -> messageId.
// failures: every failed attempt (5xx, connection error, timeout; not 4xx),
//   {t (ms since epoch, when it failed), start, url, status (0: no answer),
//   error}.
import http from 'node:http';
import { sleep, waitFor } from '../../integration/lib/stack.mjs';

export class Publisher {
  constructor({ targets, token, dest, phase, rate, giveUpMs = 120000, maxInFlight = 256,
    timeoutMs = 5000, dedupPrefix = `scale-${process.pid}-${Date.now()}` }) {
    Object.assign(this, { targets, token, dest, phase, rate, giveUpMs, maxInFlight, timeoutMs });
    this.dedupPrefix = dedupPrefix;
    this.agents = new Map(); // url -> http.Agent
    this.acked = new Map();
    this.inFlight = 0;
    this.issued = 0;
    this.s = {
      retried: 0, failedEverywhere: 0, attemptsFailed: 0, givenUp: 0, rejected: 0,
      maxAckMs: 0, errors: [],
    };
    this.spans = [];
    this.failures = [];
    this.running = false;
  }

  agent(url) {
    let a = this.agents.get(url);
    if (!a) {
      a = new http.Agent({ keepAlive: true, maxSockets: 32 });
      this.agents.set(url, a);
    }
    return a;
  }

  /** One POST; resolves {ok, status, messageId, error}. */
  post(base, seq) {
    const u = new URL(`${base}/v2/publish/${this.dest}`);
    const body = `{"seq":${seq},"phase":"${this.phase}"}`;
    return new Promise((resolve) => {
      const req = http.request({
        host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent: this.agent(base),
        timeout: this.timeoutMs,
        headers: {
          Authorization: `Bearer ${this.token}`,
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(body),
          'Upstash-Deduplication-Id': `${this.dedupPrefix}-${seq}`,
          'Upstash-Retries': '20',
          'Upstash-Retry-Delay': '200',
          'Upstash-Forward-X-Seq': String(seq),
          'Upstash-Forward-X-Phase': this.phase,
          'Upstash-Forward-X-Sent-Ms': String(Date.now()),
        },
      }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let id;
          try { id = JSON.parse(text).messageId; } catch { /* not JSON */ }
          resolve({ ok: res.statusCode >= 200 && res.statusCode < 300 && !!id, status: res.statusCode, messageId: id, error: text.slice(0, 200) });
        });
        res.on('error', (e) => resolve({ ok: false, status: 0, error: e.message }));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => resolve({ ok: false, status: 0, error: e.code || e.message }));
      req.end(body);
    });
  }

  async sendOne(seq) {
    const t0 = Date.now();
    const n = this.targets.length;
    let idx = seq % n;
    let failedHere = 0;
    let backoff = 50;
    let countedEverywhere = false;
    this.inFlight++;
    try {
      for (;;) {
        const url = this.targets[idx].url;
        const ta = Date.now();
        const r = await this.post(url, seq);
        if (r.ok) {
          this.acked.set(seq, r.messageId);
          if (failedHere > 0) this.s.retried++;
          this.s.maxAckMs = Math.max(this.s.maxAckMs, Date.now() - t0);
          return;
        }
        if (r.status >= 400 && r.status < 500) {
          this.s.rejected++;
          if (this.s.errors.length < 10) this.s.errors.push(`seq ${seq}: HTTP ${r.status} ${r.error}`);
          return;
        }
        this.s.attemptsFailed++;
        failedHere++;
        this.failures.push({ t: Date.now(), start: ta, url, status: r.status, error: r.status ? undefined : r.error });
        if (this.s.errors.length < 10) this.s.errors.push(`seq ${seq} @${url}: ${r.status || ''} ${r.error}`.trim());
        idx = (idx + 1) % n;
        if (failedHere % n === 0) {
          const now = Date.now();
          if (!countedEverywhere) { countedEverywhere = true; this.s.failedEverywhere++; }
          const last = this.spans[this.spans.length - 1];
          if (last && now - last.to < 1500) last.to = now; else this.spans.push({ from: now, to: now });
          if (now - t0 > this.giveUpMs) {
            this.s.givenUp++;
            return;
          }
          await sleep(backoff);
          backoff = Math.min(backoff * 2, 1000);
        }
      }
    } finally {
      this.inFlight--;
    }
  }

  /** Starts publishing `rate`/s on a 5 ms timer (catching up when behind). */
  start() {
    this.running = true;
    this.t0 = Date.now();
    this.timer = setInterval(() => {
      const due = Math.floor(((Date.now() - this.t0) * this.rate) / 1000);
      while (this.running && this.issued < due && this.inFlight < this.maxInFlight) {
        const seq = this.issued++;
        this.sendOne(seq);
      }
    }, 5);
  }

  /** Stops issuing and waits for every message in flight to settle. */
  async stop(timeout = this.giveUpMs + 30000) {
    this.running = false;
    clearInterval(this.timer);
    this.t1 = Date.now();
    await waitFor(() => this.inFlight === 0, { timeout, interval: 50, message: `${this.phase} publishes settled` });
    for (const a of this.agents.values()) a.destroy();
  }

  /** Resolves once `n` more messages were acknowledged than now. */
  async acks(n, timeout = 60000) {
    const want = this.acked.size + n;
    await waitFor(() => this.acked.size >= want,
      { timeout, interval: 20, message: `${n} more ${this.phase} publishes acknowledged (${this.acked.size}/${want})` });
  }

  stats() {
    return {
      issued: this.issued, acked: this.acked.size, ...this.s,
      seconds: ((this.t1 || Date.now()) - this.t0) / 1000,
      failedEverywhereSpans: this.spans,
    };
  }
}
