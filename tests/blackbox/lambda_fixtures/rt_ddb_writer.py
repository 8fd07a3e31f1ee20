"""AWS's "Python deployment package" example shape: lambda_function.lambda_handler, boto3
from the runtime, a client created at import time, no endpoint configuration at all (nimbus
sets AWS_ENDPOINT_URL and the role's credentials in the environment)."""
import os

import boto3

dynamodb = boto3.client("dynamodb")
sts = boto3.client("sts")


def lambda_handler(event, context):
    item = {
        "pk": {"S": event["pk"]},
        "written_by": {"S": context.function_name},
        "request_id": {"S": context.aws_request_id},
        "boto3": {"S": boto3.__version__},
    }
    dynamodb.put_item(TableName=event["table"], Item=item)
    got = dynamodb.get_item(TableName=event["table"], Key={"pk": {"S": event["pk"]}},
                            ConsistentRead=True)
    return {
        "stored": got["Item"]["pk"]["S"],
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
        "request_id": context.aws_request_id,
        "caller_arn": sts.get_caller_identity()["Arn"],
    }
