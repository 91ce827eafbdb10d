// trigger.mjs - starts one run of each example workflow with the official
// client and waits for them through client.logs().  Exit code 0 when both
// runs ended RUN_SUCCESS.
//
//   QSTASH_URL=http://127.0.0.1:8080 QSTASH_TOKEN=<token> \
//   APP_URL=http://127.0.0.1:3000 node example/trigger.mjs
import { Client } from '@upstash/workflow';

const appUrl = process.env.APP_URL || 'http://127.0.0.1:3000';
const client = new Client({ baseUrl: process.env.QSTASH_URL, token: process.env.QSTASH_TOKEN });

const runs = [
  await client.trigger({ url: `${appUrl}/workflows/onboarding`, body: { email: 'ada@example.com' } }),
  await client.trigger({
    url: `${appUrl}/workflows/order`, body: { orderId: 'o-1', sku: 'book', qty: 2, card: 'ok' },
    retries: 2, label: 'example',
  }),
];

const deadline = Date.now() + 60000;
let ok = true;
for (const { workflowRunId } of runs) {
  let run;
  for (;;) {
    [run] = (await client.logs({ workflowRunId })).runs;
    if (run && run.workflowState !== 'RUN_STARTED') break;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const state = run ? run.workflowState : 'unknown';
  console.log(`${workflowRunId} ${run ? run.workflowUrl : ''} ${state} ${run ? run.workflowRunResponse : ''}`);
  if (state !== 'RUN_SUCCESS') ok = false;
}
process.exit(ok ? 0 : 1);
