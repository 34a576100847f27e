// Schedule a push ten minutes ahead with the AWS SDK for JavaScript v3, read its state, then
// cancel it. Needs STATE_MACHINE_ARN (a stack output) and AWS credentials; KEY names the push
// (it is the execution name and the push id) and USER_ID its recipient.
import {
  SFNClient,
  StartExecutionCommand,
  DescribeExecutionCommand,
  StopExecutionCommand,
} from "@aws-sdk/client-sfn";

const sfn = new SFNClient({});
const key = process.env.KEY ?? "order-1234-shipped";
const userId = process.env.USER_ID ?? "u-42";

const { executionArn } = await sfn.send(new StartExecutionCommand({
  stateMachineArn: process.env.STATE_MACHINE_ARN,
  name: key,
  input: JSON.stringify({
    delaySeconds: 600,
    push: { userId, title: "Your order shipped", body: "Arriving Tuesday" },
  }),
}));
console.log("scheduled:", executionArn);
const state = async () => (await sfn.send(new DescribeExecutionCommand({ executionArn }))).status;
console.log("state:", await state());

await sfn.send(new StopExecutionCommand({ executionArn }));
console.log("state:", await state());
