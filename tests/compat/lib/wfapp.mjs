// wfapp.mjs - a real Upstash Workflow app for the compat suite: an express
// server on 127.0.0.1:0 whose routes are unmodified `serve()` handlers from
// @upstash/workflow/express, pointed at a stepflow coordinator the way a
// user would point it at QStash (QSTASH_URL / QSTASH_TOKEN in `env`).
//
// The app is set up as the Upstash express quickstart does it
// (app.use(express.json()) then serve() routes); a recording middleware in
// front keeps every request the engine made to the app (method, path,
// headers, raw body) and the status/body the SDK answered, so tests can
// count attempts and read what serve() replied.
import express from 'express';
import { serve } from '@upstash/workflow/express';
import { counter } from './wf.mjs';

/**
 * Starts the app.  opts: { env } = the serve() environment (QSTASH_URL,
 * QSTASH_TOKEN, optionally QSTASH_CURRENT/NEXT_SIGNING_KEY); `middleware`
 * = express middlewares run after the body parser, before every route.
 * Returns { url, requests, route(path, fn, options) -> full URL, to(path),
 * close() }.
 */
export async function startWorkflowApp({ env, middleware = [] }) {
  const app = express();
  const requests = [];

  // Recording middleware: before the body parser, so the raw body is the
  // one the engine sent (captured through express.json's `verify`).
  app.use((req, res, next) => {
    const rec = {
      method: req.method, path: req.path, url: req.originalUrl,
      headers: req.headers, at: Date.now(), n: requests.length,
      remotePort: req.socket.remotePort,
      raw: '', status: undefined, reply: undefined,
    };
    requests.push(rec);
    req.rec = rec;
    const json = res.json.bind(res);
    res.json = (body) => { rec.reply = body; return json(body); };
    res.on('finish', () => { rec.status = res.statusCode; rec.doneAt = Date.now(); });
    next();
  });
  app.use(express.json({
    limit: '10mb',
    verify: (req, _res, buf) => { if (req.rec) req.rec.raw = buf.toString('utf8'); },
  }));
  for (const m of middleware) app.use(m);

  const server = await new Promise((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
  server.keepAliveTimeout = 30000;
  const { port } = server.address();
  const base = `http://127.0.0.1:${port}`;

  return {
    url: base,
    requests,
    /**
     * Mounts serve(fn, {env, ...options}) under `path` (every sub-path of
     * it too, as express's Router does) and returns the workflow URL.
     */
    route(path, fn, options = {}) {
      app.use(path, serve(fn, { env, ...options }));
      return `${base}${path}`;
    },
    /** Recorded requests whose path is `p` (exact). */
    to(p) { return requests.filter((r) => r.url.split('?')[0] === p); },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Request header of a recorded request (case-insensitive). */
export function reqHeader(rec, name) {
  return rec.headers[name.toLowerCase()];
}

/** Is this recorded request a failure callback (serve()'s failureFunction)? */
export function isFailureCall(rec) {
  return reqHeader(rec, 'Upstash-Workflow-Is-Failure') === 'true' ||
    Boolean(reqHeader(rec, 'Upstash-Workflow-Failure-Callback'));
}

/**
 * Mounts the "repair" workflow at `path` of `app` (startWorkflowApp's
 * result), for resume and restart tests: steps r-1 -> 'one', r-2 ->
 * 'one-two', r-3 -> 'one-two-three' (the run's result), the payload's
 * `tag` naming the run.  r-2 throws while `broken` holds the tag; `ran`
 * counts each step's executions as '<tag>:<step>'.
 * Returns { url, broken, ran }.
 */
export function repairRoute(app, path) {
  const broken = new Set();
  const ran = counter();
  const url = app.route(path, async (context) => {
    const { tag } = context.requestPayload;
    const a = await context.run('r-1', () => { ran.bump(`${tag}:r-1`); return 'one'; });
    const b = await context.run('r-2', () => {
      ran.bump(`${tag}:r-2`);
      if (broken.has(tag)) throw new Error(`r-2 broken for ${tag}`);
      return `${a}-two`;
    });
    return await context.run('r-3', () => { ran.bump(`${tag}:r-3`); return `${b}-three`; });
  });
  return { url, broken, ran };
}
