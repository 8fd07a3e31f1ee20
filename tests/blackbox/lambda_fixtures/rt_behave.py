"""Misbehaves on request (event["do"]): raise, sleep, exit the process, allocate memory,
or just answer. Used for the error-shape, timeout, OOM and concurrency tests."""
import os
import threading
import time
import uuid

# One value per execution environment: tells warm and parallel environments apart.
ENV_ID = uuid.uuid4().hex


class ValidationProblem(Exception):
    pass


def level_two(n):
    raise ValidationProblem(f"bad value {n}")


def handler(event, context):
    what = event.get("do")
    print(f"behave: {what} {event.get('marker', '')}", flush=True)
    if what == "raise":
        level_two(event.get("n"))
    if what == "sleep":
        start = time.time()
        time.sleep(event["seconds"])
        return {"slept": event["seconds"], "start": start, "end": time.time(),
                "request_id": context.aws_request_id, "env_id": ENV_ID}
    if what == "exit":
        os._exit(event.get("code", 3))
    if what == "alloc":
        chunks = []
        for _ in range(event["mb"]):
            # Touch every page: untouched pages would not count against the limit.
            chunks.append(bytearray(b"x" * (1024 * 1024)))
        return {"allocated_mb": len(chunks)}
    if what == "threads":
        # Start threads until the environment refuses one (or the cap): AWS allows 1,024
        # processes/threads per environment.
        threading.stack_size(64 * 1024)
        release = threading.Event()
        started, refused = 0, None
        try:
            for _ in range(event["max"]):
                try:
                    threading.Thread(target=release.wait, daemon=True).start()
                except RuntimeError as e:
                    refused = str(e)
                    break
                started += 1
        finally:
            release.set()
        return {"started": started, "refused": refused}
    if what == "marshal":
        return {"not_json": {1, 2}}
    return {"ok": True, "pid": os.getpid(), "request_id": context.aws_request_id, "env_id": ENV_ID}
