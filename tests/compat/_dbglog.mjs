import { Client } from '@upstash/workflow';
import { startStack, waitFor, sleep } from '../integration/lib/stack.mjs';
import { startWorkflowApp } from './lib/wfapp.mjs';
import { waitRunState } from './lib/wf.mjs';
const stack = await startStack({ workers: 1 });
const app = await startWorkflowApp({ env: { QSTASH_URL: stack.url, QSTASH_TOKEN: stack.token } });
const client = new Client({ baseUrl: stack.url, token: stack.token, retry: false });
const url = app.route('/f', async (context) => {
  const [a, b] = await Promise.all([context.run('p1', () => 1), context.run('p2', () => 2)]);
  await context.call('c', { url: `${stack.url}/healthz`, method: 'GET' });
  await context.run('bad', () => { throw new Error('bad!'); });
}, { failureFunction: async () => 'ff-ok' });
const { workflowRunId } = await client.trigger({ url, body: { x: 1 }, retries: 2, retryDelay: '50', label: ['l1', 'l2'] });
await waitRunState(client, stack, workflowRunId, 'RUN_FAILED');
await sleep(1000);
console.log(JSON.stringify((await client.logs({ workflowRunId })).runs[0], null, 1));
console.log(JSON.stringify((await client.dlq.list({ filter: { workflowRunId } })).messages[0], null, 1));
await stack.stop(); await app.close();
