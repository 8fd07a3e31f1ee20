"""A function-URL handler: answers with a structured response built from the event."""
import json


def handler(event, context):
    if event.get("rawPath") == "/plain":
        return {"plain": True, "method": event["requestContext"]["http"]["method"]}
    return {
        "statusCode": 201,
        "headers": {"content-type": "text/plain", "x-seen-path": event.get("rawPath", "")},
        "cookies": ["session=abc"],
        "body": json.dumps({
            "query": event.get("queryStringParameters"),
            "body": event.get("body"),
            "method": event["requestContext"]["http"]["method"],
            "version": event.get("version"),
        }),
    }
