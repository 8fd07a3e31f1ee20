"""Destination target: stores each event it gets in S3 (bucket from the environment) under
the original request id, so a test can read the destination record back."""
import json
import os

import boto3


def handler(event, context):
    ctx = event.get("requestContext", {})
    key = f"{ctx.get('condition', 'none')}/{ctx.get('requestId', context.aws_request_id)}"
    boto3.client("s3").put_object(Bucket=os.environ["BUCKET"], Key=key,
                                  Body=json.dumps(event).encode())
    return {"stored": key}
