// Start a warm transfer from a Node voice agent, with nothing but @temporalio/client
// and the engine's plain JSON contract (../../../shared/CONTRACT.md):
//
//   npm install
//   TEMPORAL_ADDRESS=localhost:7233 node start_transfer.mjs \
//     --room call-8f3a --caller sip_+15105550123 --to +15105550100 --trunk ST_abc
//
// It starts WarmTransferWorkflow on task queue "warm-transfer" (one transfer per caller
// room: workflow id warm-transfer-<room>), prints each stage from the `status` query
// and then the outcome. --hang-up-after N plays the caller leaving after N seconds:
// the voice agent sends `caller_hung_up` with signal-with-start, so the signal is not
// lost even if it beats the start to Temporal.
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';

const { values: opts } = parseArgs({
  options: {
    room: { type: 'string' },
    caller: { type: 'string' },
    agent: { type: 'string', default: 'voice-agent' },
    to: { type: 'string', multiple: true, default: [] },
    trunk: { type: 'string' },
    summary: { type: 'string', default: 'Caller disputes a $42 charge on the May invoice.' },
    'hang-up-after': { type: 'string' },
  },
});
if (!opts.room || !opts.caller || opts.to.length === 0) {
  console.error('usage: node start_transfer.mjs --room R --caller C --to NUMBER [--to ...]');
  process.exit(2);
}

// The contract's TransferRequest: plain JSON, no engine code needed.
const request = {
  room_name: opts.room,
  caller_identity: opts.caller,
  agent_identity: opts.agent,
  destinations: opts.to.map((number) => ({
    sip_call_to: number,
    ...(opts.trunk ? { sip_trunk_id: opts.trunk } : {}),
    ring_timeout_s: 20,
  })),
  summary: opts.summary,
  fallback: { kind: 'return_to_agent' },
  accept_timeout_s: 60,
};

const connection = await Connection.connect({
  address: process.env.TEMPORAL_ADDRESS ?? 'localhost:7233',
});
const client = new Client({ connection, namespace: process.env.TEMPORAL_NAMESPACE ?? 'default' });
const taskQueue = process.env.TEMPORAL_TASK_QUEUE ?? 'warm-transfer';
const workflowId = `warm-transfer-${request.room_name}`;

// Idempotent start: a retried start joins the transfer already running for this room.
const handle = await client.workflow.start('WarmTransferWorkflow', {
  taskQueue,
  workflowId,
  args: [request],
  workflowIdConflictPolicy: 'USE_EXISTING',
});
console.log(JSON.stringify({ started: workflowId, run_id: handle.firstExecutionRunId }));

if (opts['hang-up-after'] !== undefined) {
  // What the voice agent does when the caller's participant disconnects.
  sleep(Number(opts['hang-up-after']) * 1000).then(() =>
    client.workflow.signalWithStart('WarmTransferWorkflow', {
      taskQueue,
      workflowId,
      args: [request],
      signal: 'caller_hung_up',
      signalArgs: [{}],
    }),
  );
}
// A briefing agent written in Node would answer with, for the leg being briefed:
//   await handle.signal('human_accepted', { participant_identity: leg });
//   await handle.signal('human_declined', { participant_identity: leg, reason: 'busy' });

const done = handle.result();
let stage = null;
for (;;) {
  const status = await handle.query('status');
  if (status.stage !== stage) {
    stage = status.stage;
    console.log(JSON.stringify({ stage, leg: status.participant_identity, details: status.details }));
  }
  if (stage === 'done') break;
  await sleep(250);
}
const outcome = await done;
console.log(JSON.stringify({ outcome: outcome.outcome, destination: outcome.destination, attempts: outcome.attempts }));
await connection.close();
