"""Echoes the event with a few facts about the environment it ran in."""
import os


def handler(event, context):
    print("echo handler called")
    return {
        "event": event,
        "env": {k: os.environ.get(k) for k in ("GREETING", "AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME",
                                                "AWS_LAMBDA_FUNCTION_VERSION")},
        "request_id": context.aws_request_id,
        "function_arn": context.invoked_function_arn,
        "memory": context.memory_limit_in_mb,
    }
