"""Handler for the provided.al2023 function whose bootstrap runs the unmodified
awslambdaric (AWS's own Python runtime interface client)."""
import sys


def fn(event, context):
    import awslambdaric

    print("ric handler called", flush=True)
    if event.get("fail"):
        raise LookupError("ric failure " + str(event["fail"]))
    return {
        "event": event,
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "python": sys.version.split()[0],
        "ric_module": awslambdaric.__file__,
    }
