"""Schedule a push ten minutes ahead with boto3, read its state, then cancel it.

Needs STATE_MACHINE_ARN (a stack output) and AWS credentials; KEY names the push (it is the
execution name and the push id) and USER_ID its recipient.
"""
import json
import os

import boto3

sfn = boto3.client("stepfunctions")
key = os.environ.get("KEY", "order-1234-shipped")
user_id = os.environ.get("USER_ID", "u-42")

started = sfn.start_execution(
    stateMachineArn=os.environ["STATE_MACHINE_ARN"],
    name=key,
    input=json.dumps({
        "delaySeconds": 600,
        "push": {"userId": user_id, "title": "Your order shipped", "body": "Arriving Tuesday"},
    }),
)
arn = started["executionArn"]
print("scheduled:", arn)
print("state:", sfn.describe_execution(executionArn=arn)["status"])

sfn.stop_execution(executionArn=arn)
print("state:", sfn.describe_execution(executionArn=arn)["status"])
