"""Reports what a function can see and do inside its environment: the server's data
directory, host processes, /var/task writability, /tmp, the AWS environment variables."""
import os
import resource
import socket


def attempt(fn):
    try:
        return {"ok": True, "value": fn()}
    except Exception as e:  # noqa: BLE001 - the failure is the answer
        return {"ok": False, "error": type(e).__name__, "errno": getattr(e, "errno", None)}


def write_task():
    with open("/var/task/written-by-function", "w") as f:
        f.write("x")
    return "written"


def write_tmp(name, text):
    with open(os.path.join("/tmp", name), "w") as f:
        f.write(text)
    return "written"


def read_tmp(name):
    with open(os.path.join("/tmp", name)) as f:
        return f.read()


def connect(port):
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        return "connected"


def proc1_cmdline():
    with open("/proc/1/cmdline", "rb") as f:
        return f.read().decode(errors="replace").split("\0")[:3]


def handler(event, context):
    data_dir = event.get("data_dir", "/nonexistent")
    out = {
        "data_dir_exists": os.path.exists(data_dir),
        "data_dir_list": attempt(lambda: sorted(os.listdir(data_dir))[:20]),
        "data_dir_parent_list": attempt(lambda: sorted(os.listdir(os.path.dirname(data_dir)))[:50]),
        "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "my_pid": os.getpid(),
        "write_task": attempt(write_task),
        "task_listing": sorted(os.listdir("/var/task")),
        "env": {k: os.environ.get(k) for k in (
            "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_REGION", "AWS_DEFAULT_REGION",
            "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "AWS_LAMBDA_RUNTIME_API",
            "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
            "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_EXECUTION_ENV",
            "_HANDLER", "TZ", "AWS_ENDPOINT_URL")},
        "uid": os.getuid(),
        "cwd": os.getcwd(),
        "paths_exist": {p: os.path.exists(p) for p in event.get("host_paths", [])},
        "proc1_cmdline": attempt(proc1_cmdline),
        "nofile": list(resource.getrlimit(resource.RLIMIT_NOFILE)),
        "nproc": list(resource.getrlimit(resource.RLIMIT_NPROC)),
        "connect": {str(p): attempt(lambda p=p: connect(p)) for p in event.get("ports", [])},
        "interfaces": sorted(name for _, name in socket.if_nameindex()),
    }
    if "tmp_write" in event:
        out["tmp_write"] = attempt(lambda: write_tmp(event["tmp_write"], event.get("tmp_text", "")))
    if "tmp_read" in event:
        out["tmp_read"] = attempt(lambda: read_tmp(event["tmp_read"]))
    return out
