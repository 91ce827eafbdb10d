// app.mjs - an ordinary Upstash Workflow app (express + serve()) that runs
// on stepflow unchanged: the only stepflow-specific thing is the environment
// (QSTASH_URL = the coordinator, QSTASH_TOKEN = its STEPFLOW_TOKEN).
//
//   QSTASH_URL=http://127.0.0.1:8080 QSTASH_TOKEN=<token> PORT=3000 node example/app.mjs
//   QSTASH_URL=http://127.0.0.1:8080 QSTASH_TOKEN=<token> node example/trigger.mjs
//
// Set QSTASH_CURRENT_SIGNING_KEY / QSTASH_NEXT_SIGNING_KEY to the workers'
// STEPFLOW_CURRENT_SIGNING_KEY / STEPFLOW_NEXT_SIGNING_KEY and serve()
// verifies every delivery.
import express from 'express';
import { serve } from '@upstash/workflow/express';

const app = express();
app.use(express.json());

// Workflow 1: sequential steps, a durable sleep and an HTTP call that the
// engine makes on the workflow's behalf (context.call).
app.use('/workflows/onboarding', serve(async (context) => {
  const { email } = context.requestPayload;
  const user = await context.run('create-user', () => ({ id: `u_${email.split('@')[0]}`, email }));
  await context.sleep('let-it-settle', 2);
  const inventory = await context.call('fetch-welcome-gift', {
    url: `${new URL(context.url).origin}/api/inventory/welcome-mug`,
    method: 'GET',
  });
  const sent = await context.run('send-welcome', () => {
    console.log(`[onboarding] welcome mail to ${user.email} (mugs left: ${inventory.body.inStock})`);
    return `welcome sent to ${user.email}`;
  });
  return { userId: user.id, sent };
}));

// Workflow 2: parallel steps and a failure function.  An order paid with
// card "declined" fails its charge step on every attempt; once the retries
// are used up the run is RUN_FAILED, lands in the DLQ and failureFunction
// runs (fix the cause, then client.dlq.resume({ dlqId }) to continue).
app.use('/workflows/order', serve(async (context) => {
  const order = context.requestPayload;
  const [stock, price] = await Promise.all([
    context.run('check-stock', () => ({ sku: order.sku, available: true })),
    context.run('get-price', () => ({ sku: order.sku, cents: 1999 * (order.qty || 1) })),
  ]);
  const receipt = await context.run('charge', () => {
    if (order.card === 'declined') throw new Error(`card declined for order ${order.orderId}`);
    return { orderId: order.orderId, charged: price.cents, sku: stock.sku };
  });
  return receipt;
}, {
  failureFunction: async ({ context, failStatus, failResponse }) => {
    console.log(`[order] ${context.requestPayload.orderId} failed (${failStatus}): ${failResponse}`);
  },
}));

// A plain endpoint the onboarding workflow calls through context.call.
app.get('/api/inventory/:sku', (req, res) => res.json({ sku: req.params.sku, inStock: 12 }));

const port = Number(process.env.PORT || 3000);
const server = app.listen(port, process.env.HOST || '127.0.0.1', () => {
  console.log(`example workflows on http://${server.address().address}:${server.address().port} ` +
    `(QStash API: ${process.env.QSTASH_URL})`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
