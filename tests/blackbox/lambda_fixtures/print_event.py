"""Prints the event it gets as one log line (`EVENT {json}`), for tests that read logs."""
import json


def handler(event, context):
    print("EVENT " + json.dumps(event))
