// Runs the scheduler's JSONata states on inputs with the reference JSONata library (npm
// "jsonata", pinned in package.json), as Step Functions would.
// stdin: {"definition": "<ASL>", "cases": [{"name", "input": "<JSON text>", "start", "executionName"}]}
// stdout: [{"name", "timestamp", "pass", "body", "raised", "cause", "error"}]
// Inputs are JSON text parsed here, so 3.0, 3e0, -0 and 1e400 reach the expressions as a
// JSON parser gives them.
'use strict';
const jsonata = require('jsonata');

const expr = (s) => {
  const m = /^\{%(.*)%\}$/s.exec(s);
  if (!m) throw new Error('not a JSONata expression: ' + s);
  return jsonata(m[1]);
};

// run follows the definition: WaitUntilDue's timestamp, then SendPush's message body, which
// raises the check's answer for a bad input (States.QueryEvaluationError, caught into
// InvalidSchedule, whose cause is evaluated on the same input).
async function run(def, c) {
  const input = JSON.parse(c.input);
  const bindings = { states: { input, context: { Execution: { Name: c.executionName, StartTime: c.start } } } };
  const out = { name: c.name };
  const states = def.States;
  try {
    out.timestamp = await expr(states.WaitUntilDue.Timestamp).evaluate(input, bindings);
    try {
      out.body = await expr(states.SendPush.Arguments.MessageBody).evaluate(input, bindings);
      out.pass = true;
    } catch (e) {
      if (e.code !== 'D3137') throw e; // not $error: not the check's answer
      out.pass = false;
      out.raised = e.message;
      out.cause = await expr(states.InvalidSchedule.Cause).evaluate(input, bindings);
    }
  } catch (e) {
    out.error = (e.code || '') + ' ' + (e.message || String(e));
  }
  return out;
}

(async () => {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  const req = JSON.parse(text);
  const def = JSON.parse(req.definition);
  const results = [];
  for (const c of req.cases) results.push(await run(def, c));
  process.stdout.write(JSON.stringify(results));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
