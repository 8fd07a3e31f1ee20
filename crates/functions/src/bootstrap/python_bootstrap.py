"""nimbus's bootstrap for the managed Python runtimes (python3.9 .. python3.14).

It does what AWS's runtime interface client does: import the handler named by _HANDLER
(`file.function`, `pkg/mod.function`), then loop on the Lambda Runtime API at
$AWS_LAMBDA_RUNTIME_API: take the next event, call the handler with a `context`, post
the result or the error. Error documents have AWS's shape (errorMessage, errorType,
requestId, stackTrace) and error types (Runtime.ImportModuleError, ...). Written for
speed: one keep-alive connection, no per-invoke imports.
"""

# Only what every invoke needs is imported up front: the interpreter's start-up is the
# cold start. logging, traceback, decimal and even `json` load when something uses them
# (`json` imports `re`, which alone costs a cold start several milliseconds; events and
# results go through CPython's own C codec in `_json` instead, see _loads/_dumps).
import _socket
import importlib
import importlib.machinery
import os
import sys
import time

try:
    import _json
except ImportError:  # not CPython's accelerator: the json module does it all
    _json = None

# The script's own directory (/var/runtime) comes first on sys.path by default; AWS puts
# the function's package first (PYTHONPATH has the whole order).
if sys.path and os.path.dirname(os.path.abspath(__file__)) == os.path.abspath(sys.path[0] or "."):
    del sys.path[0]

API_PREFIX = "/2018-06-01/runtime"
_request_id = ""


class Fault(Exception):
    def __init__(self, error_type, message, trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.msg = message
        self.trace = trace if trace is not None else []


class RuntimeClient:
    """A minimal HTTP/1.1 keep-alive client for the Runtime API.

    http.client builds an email.message per response, which costs more than the whole
    rest of a warm invoke; the Runtime API's responses are simple (Content-Length, no
    chunking), so this parses them directly."""

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.addr = (host or "127.0.0.1", int(port))
        self.sock = None
        self.buf = b""

    def _connect(self):
        s = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        s.connect(self.addr)
        s.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        self.sock = s
        self.buf = b""

    def _read_response(self):
        buf = self.buf
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the Runtime API closed the connection")
            buf += chunk
        head = buf[:end].decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        length = int(headers.get("content-length", "0"))
        body_start = end + 4
        need = body_start + length
        while len(buf) < need:
            chunk = self.sock.recv(max(65536, need - len(buf)))
            if not chunk:
                raise ConnectionError("the Runtime API closed the connection")
            buf += chunk
        self.buf = buf[need:]
        return status, headers, buf[body_start:need]

    def _request(self, raw):
        # One retry on a fresh connection: the server may have closed an idle keep-alive.
        for attempt in (0, 1):
            try:
                if self.sock is None:
                    self._connect()
                self.sock.sendall(raw)
                return self._read_response()
            except (ConnectionError, OSError):
                try:
                    if self.sock is not None:
                        self.sock.close()
                finally:
                    self.sock = None
                if attempt == 1:
                    raise
        raise RuntimeError("unreachable")

    def next(self):
        status, headers, body = self._request(
            b"GET " + API_PREFIX.encode() + b"/invocation/next HTTP/1.1\r\nHost: runtime\r\n\r\n"
        )
        if status != 200:
            raise Fault(
                "Runtime.LambdaRuntimeClientError",
                "/invocation/next returned %d: %s" % (status, body[:200]),
            )
        return headers, body

    def post(self, path, body, error_type=None):
        head = "POST %s%s HTTP/1.1\r\nHost: runtime\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % (
            API_PREFIX,
            path,
            len(body),
        )
        if error_type:
            head += "Lambda-Runtime-Function-Error-Type: %s\r\n" % error_type
        status, _, _ = self._request(head.encode("latin-1") + b"\r\n" + body)
        return status


class CognitoIdentity:
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]


class Client:
    __slots__ = [
        "installation_id",
        "app_title",
        "app_version_name",
        "app_version_code",
        "app_package_name",
    ]


class ClientContext:
    __slots__ = ["custom", "env", "client"]


def _obj_from_dict(cls, d):
    if d is None:
        return None
    obj = cls()
    for k in cls.__slots__:
        setattr(obj, k, d.get(k))
    return obj


class LambdaContext:
    def __init__(self, request_id, client_context, cognito_identity, deadline_ms, invoked_function_arn):
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = None
        self._deadline_ms = deadline_ms

        self.client_context = None
        if client_context:
            cc = _loads(client_context)
            self.client_context = _obj_from_dict(ClientContext, cc)
            if self.client_context is not None:
                self.client_context.client = _obj_from_dict(Client, cc.get("client"))
        self.identity = CognitoIdentity()
        self.identity.cognito_identity_id = None
        self.identity.cognito_identity_pool_id = None
        if cognito_identity:
            ci = _loads(cognito_identity)
            self.identity.cognito_identity_id = ci.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = ci.get("cognitoIdentityPoolId")

    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (
            "LambdaContext([aws_request_id={},log_group_name={},log_stream_name={},function_name={},"
            "memory_limit_in_mb={},function_version={},invoked_function_arn={},client_context={},identity={}])"
        ).format(
            self.aws_request_id,
            self.log_group_name,
            self.log_stream_name,
            self.function_name,
            self.memory_limit_in_mb,
            self.function_version,
            self.invoked_function_arn,
            self.client_context,
            self.identity,
        )


def _setup_logging(logging):
    """AWS's root log handler: its text format; multi-line messages stay one log event
    (\\r). Installed when `logging` is first imported, so that basicConfig() in user code
    is the no-op it is on AWS."""

    class _RequestIdFilter(logging.Filter):
        def filter(self, record):
            record.aws_request_id = _request_id
            return True

    class _LambdaLogHandler(logging.Handler):
        def emit(self, record):
            try:
                msg = self.format(record)
                sys.stdout.write(msg.replace("\n", "\r") + "\n")
            except Exception:
                self.handleError(record)

    handler = _LambdaLogHandler()
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
        "%Y-%m-%dT%H:%M:%S",
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL")
    if level:
        root.setLevel(level.upper())


class _LoggingHook:
    """A meta-path finder that runs _setup_logging right after `logging` loads."""

    def find_spec(self, name, path=None, target=None):
        if name != "logging":
            return None
        try:
            sys.meta_path.remove(self)
        except ValueError:
            pass
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        original = spec.loader.exec_module

        def exec_module(module):
            original(module)
            _setup_logging(module)

        spec.loader.exec_module = exec_module
        return spec


def _install_logging():
    if "logging" in sys.modules:
        _setup_logging(sys.modules["logging"])
    else:
        sys.meta_path.insert(0, _LoggingHook())


def _stack(tb, skip_runtime_frames=True):
    import traceback

    frames = traceback.extract_tb(tb)
    if skip_runtime_frames:
        frames = [f for f in frames if not f.filename.endswith("python_bootstrap.py")]
    return traceback.format_list(frames)


def _error_doc(error_type, message, request_id, stack):
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": stack,
    }


def _log_error(doc):
    line = "[ERROR]"
    if doc.get("errorType"):
        line += " " + doc["errorType"]
    if doc.get("errorMessage"):
        if doc.get("errorType"):
            line += ":"
        line += " " + doc["errorMessage"]
    lines = [line]
    stack = doc.get("stackTrace")
    if stack:
        lines.append("Traceback (most recent call last):")
        for el in stack:
            lines.extend(el.splitlines())
    sys.stdout.write("\r".join(lines) + "\n")


def _doc_from_exception(exc, request_id):
    if isinstance(exc, Fault):
        return _error_doc(exc.error_type, exc.msg, request_id, exc.trace)
    return _error_doc(type(exc).__name__, str(exc), request_id, _stack(exc.__traceback__))


def _load_handler(name):
    try:
        modname, fname = name.rsplit(".", 1)
    except ValueError as e:
        raise Fault("Runtime.MalformedHandlerName", "Bad handler '{}': {}".format(name, e))
    if modname.split(".")[0] in sys.builtin_module_names:
        raise Fault(
            "Runtime.BuiltInModuleConflict",
            "Cannot use built-in module {} as a handler module".format(modname),
        )
    try:
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise Fault(
            "Runtime.ImportModuleError",
            "Unable to import module '{}': {}".format(modname, e),
        )
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise Fault(
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module '{}': {}".format(modname, e),
            trace,
        )
    handler = getattr(module, fname, None)
    if handler is None:
        fault = Fault(
            "Runtime.HandlerNotFound",
            "Handler '{}' missing on module '{}'".format(fname, modname),
        )

        def missing(event, context):
            raise fault

        return missing
    return handler


def _default(o):
    # Decimal (DynamoDB numbers) without importing decimal for everyone.
    if type(o).__name__ == "Decimal" and hasattr(o, "to_integral_value"):
        return int(o) if o == o.to_integral_value() else float(o)
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


class _ScanContext:
    # What json.JSONDecoder hands the C scanner (json.loads's defaults).
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}.__getitem__


def _loads(text):
    """json.loads(text). Valid documents take CPython's C scanner (what json.loads runs
    too); anything else (an error, a BOM, another interpreter) goes to json.loads itself,
    so errors and edge cases are exactly json's."""
    if _json is not None:
        try:
            s = text.decode("utf-8") if isinstance(text, (bytes, bytearray)) else text
            s = s.strip(" \t\n\r")
            obj, end = _json.make_scanner(_ScanContext())(s, 0)
            if end == len(s):
                return obj
        except Exception:  # noqa: BLE001 - json.loads below reports it exactly
            pass
    import json

    return json.loads(text)


def _dumps(obj):
    """json.dumps(obj, ensure_ascii=False, default=_default), through the C encoder
    json.dumps uses for the same call; json.dumps itself for anything the fast path does
    not take (so its errors are json's)."""
    if _json is not None:
        try:
            if isinstance(obj, str):
                return _json.encode_basestring(obj)
            encode = _json.make_encoder({}, _default, _json.encode_basestring, None, ": ", ", ", False, False, True)
            return "".join(encode(obj, 0))
        except Exception:  # noqa: BLE001 - json.dumps below reports it exactly
            pass
    import json

    return json.dumps(obj, ensure_ascii=False, default=_default)


def _flush():
    # Everything the handler printed reaches the log pipe before the response does.
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass


def _utf8(v):
    # Header bytes were decoded as latin-1; JSON documents in them are UTF-8.
    if v is None:
        return None
    try:
        return v.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return v


def main():
    global _request_id
    try:
        sys.stdout.reconfigure(line_buffering=True)
        sys.stderr.reconfigure(line_buffering=True)
    except Exception:
        pass
    client = RuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"])
    _install_logging()
    if os.environ.get("LAMBDA_TASK_ROOT") and os.path.isdir(os.environ["LAMBDA_TASK_ROOT"]):
        try:
            os.chdir(os.environ["LAMBDA_TASK_ROOT"])
        except OSError:
            pass

    try:
        handler = _load_handler(os.environ.get("_HANDLER", ""))
    except Exception as e:  # noqa: BLE001 - every init failure is reported
        doc = _doc_from_exception(e, "")
        _log_error(doc)
        _flush()
        client.post("/init/error", _dumps(doc).encode("utf-8"), doc["errorType"])
        sys.exit(1)

    while True:
        headers, body = client.next()
        request_id = headers.get("lambda-runtime-aws-request-id", "")
        _request_id = request_id
        trace_id = headers.get("lambda-runtime-trace-id")
        if trace_id:
            os.environ["_X_AMZN_TRACE_ID"] = trace_id
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        try:
            deadline_ms = int(headers.get("lambda-runtime-deadline-ms", "0"))
        except ValueError:
            deadline_ms = 0
        try:
            context = LambdaContext(
                request_id,
                _utf8(headers.get("lambda-runtime-client-context")),
                _utf8(headers.get("lambda-runtime-cognito-identity")),
                deadline_ms,
                headers.get("lambda-runtime-invoked-function-arn"),
            )
            try:
                event = _loads(body) if body else {}
            except ValueError as e:
                raise Fault("Runtime.UnmarshalError", "Unable to unmarshal input: {}".format(e))
            result = handler(event, context)
            try:
                out = _dumps(result).encode("utf-8")
            except (TypeError, ValueError) as e:
                raise Fault("Runtime.MarshalError", "Unable to marshal response: {}".format(e))
        except Exception as e:  # noqa: BLE001 - every handler failure is reported
            doc = _doc_from_exception(e, request_id)
            _log_error(doc)
            _flush()
            client.post(
                "/invocation/%s/error" % request_id,
                _dumps(doc).encode("utf-8"),
                doc["errorType"],
            )
            continue
        _flush()
        client.post("/invocation/%s/response" % request_id, out)


if __name__ == "__main__":
    main()
