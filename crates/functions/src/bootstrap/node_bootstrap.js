// nimbus's bootstrap for the managed Node.js runtimes (nodejs18.x .. nodejs24.x).
//
// It does what AWS's runtime interface client does: load the handler named by _HANDLER
// (`file.handler`, `dir/file.nested.handler`; CommonJS .js/.cjs, ES modules .mjs or .js
// under "type": "module"), then loop on the Lambda Runtime API at
// $AWS_LAMBDA_RUNTIME_API. Async handlers and callback handlers both work. Errors have
// AWS's shape ({errorType, errorMessage, trace}) and types (Runtime.ImportModuleError,
// Runtime.HandlerNotFound, Runtime.MalformedHandlerName, Runtime.UserCodeSyntaxError).
'use strict';

const http = require('http');
const fs = require('fs');
const path = require('path');
const util = require('util');
const { pathToFileURL } = require('url');

const API = process.env.AWS_LAMBDA_RUNTIME_API || '127.0.0.1:9001';
const [HOST, PORT] = (() => {
  const i = API.lastIndexOf(':');
  return [API.slice(0, i) || '127.0.0.1', Number(API.slice(i + 1))];
})();
const PREFIX = '/2018-06-01/runtime';
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

let currentRequestId;

// --- logging: AWS's text format, one event per call (\r keeps multi-line together) ----
function patchConsole() {
  const levels = { log: 'INFO', info: 'INFO', warn: 'WARN', error: 'ERROR', debug: 'DEBUG', trace: 'TRACE' };
  for (const [name, level] of Object.entries(levels)) {
    console[name] = (...args) => {
      const msg = util.format(...args).replace(/\n/g, '\r');
      process.stdout.write(`${new Date().toISOString()}\t${currentRequestId}\t${level}\t${msg}\n`);
    };
  }
}

// --- Runtime API client -----------------------------------------------------------------
function request(method, urlPath, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: HOST, port: PORT, method, path: PREFIX + urlPath, agent, headers: headers || {} },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

function post(urlPath, body, errorType) {
  const buf = Buffer.from(body, 'utf8');
  const headers = { 'Content-Type': 'application/json', 'Content-Length': buf.length };
  if (errorType) headers['Lambda-Runtime-Function-Error-Type'] = errorType;
  return request('POST', urlPath, buf, headers);
}

// --- errors ---------------------------------------------------------------------------------
class RuntimeError extends Error {
  constructor(name, message) {
    super(message);
    this.name = name;
  }
}

function toRuntimeResponse(error) {
  try {
    if (util.types.isNativeError(error) || (error && typeof error === 'object' && 'name' in error && 'message' in error)) {
      return {
        errorType: error.name,
        errorMessage: error.message,
        trace: String(error.stack || '').split('\n'),
      };
    }
    return { errorType: typeof error, errorMessage: String(error), trace: [] };
  } catch (_e) {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

// --- handler loading ------------------------------------------------------------------------
function isEsmPackage(dir, root) {
  // The nearest package.json up to the task root decides what .js means.
  let d = dir;
  for (let i = 0; i < 64; i++) {
    const pj = path.join(d, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        return JSON.parse(fs.readFileSync(pj, 'utf8')).type === 'module';
      } catch (_e) {
        return false;
      }
    }
    if (d === root || d === path.dirname(d)) return false;
    d = path.dirname(d);
  }
  return false;
}

let esmHookRegistered = false;
function registerSdkResolver() {
  // ES modules ignore NODE_PATH; AWS's runtime still lets them import the bundled SDK.
  // A resolve hook retries bare specifiers from the NODE_PATH directories.
  if (esmHookRegistered) return;
  esmHookRegistered = true;
  const mod = require('module');
  if (typeof mod.register !== 'function') return;
  const parents = (process.env.NODE_PATH || '')
    .split(':')
    .filter((p) => p.endsWith('/node_modules'))
    .map((p) => pathToFileURL(path.join(path.dirname(p), 'noop.mjs')).href);
  const hook = `
const PARENTS = ${JSON.stringify(parents)};
export async function resolve(specifier, context, next) {
  try { return await next(specifier, context); } catch (e) {
    const bare = !/^(\\.|\\/|file:|node:|data:)/.test(specifier);
    if (bare && e && e.code === 'ERR_MODULE_NOT_FOUND') {
      for (const parentURL of PARENTS) {
        try { return await next(specifier, { ...context, parentURL }); } catch (_e) {}
      }
    }
    throw e;
  }
}`;
  try {
    mod.register('data:text/javascript,' + encodeURIComponent(hook));
  } catch (_e) {
    // Older Node.js: bare SDK imports from ES modules are unavailable.
  }
}

async function loadModule(taskRoot, moduleRoot, moduleName) {
  const base = path.resolve(taskRoot, moduleRoot, moduleName);
  const dir = path.dirname(base);
  const tryImport = async (file) => {
    registerSdkResolver();
    return import(pathToFileURL(file).href);
  };
  if (fs.existsSync(base + '.js')) {
    if (isEsmPackage(dir, taskRoot)) return tryImport(base + '.js');
    try {
      return require(base + '.js');
    } catch (e) {
      if (e && e.code === 'ERR_REQUIRE_ESM') return tryImport(base + '.js');
      throw e;
    }
  }
  if (fs.existsSync(base + '.mjs')) return tryImport(base + '.mjs');
  if (fs.existsSync(base + '.cjs')) return require(base + '.cjs');
  // A package in node_modules, as the AWS runtime allows.
  let resolved;
  try {
    resolved = require.resolve(moduleName, { paths: [path.resolve(taskRoot, moduleRoot), taskRoot] });
  } catch (_e) {
    throw new RuntimeError(
      'Runtime.ImportModuleError',
      `Error: Cannot find module '${moduleName}'\nRequire stack:\n- ${__filename}`,
    );
  }
  return require(resolved);
}

async function loadHandler(taskRoot, fullHandler) {
  const slash = fullHandler.lastIndexOf('/');
  const moduleRoot = slash >= 0 ? fullHandler.slice(0, slash) : '';
  const rest = slash >= 0 ? fullHandler.slice(slash + 1) : fullHandler;
  const m = /^([^.]*)\.(.*)$/.exec(rest);
  if (!m) throw new RuntimeError('Runtime.MalformedHandlerName', 'Bad handler');
  const [, moduleName, handlerPath] = m;
  let app;
  try {
    app = await loadModule(taskRoot, moduleRoot, moduleName);
  } catch (e) {
    if (e instanceof SyntaxError) {
      throw new RuntimeError('Runtime.UserCodeSyntaxError', `${e.name}: ${e.message}`);
    }
    if (e && (e.code === 'MODULE_NOT_FOUND' || e.code === 'ERR_MODULE_NOT_FOUND')) {
      throw new RuntimeError('Runtime.ImportModuleError', `Error: ${e.message}`);
    }
    throw e;
  }
  let h = app;
  for (const part of handlerPath.split('.')) {
    h = h == null ? undefined : h[part];
  }
  if (h === undefined) {
    throw new RuntimeError('Runtime.HandlerNotFound', `${fullHandler} is undefined or not exported`);
  }
  if (typeof h !== 'function') {
    throw new RuntimeError('Runtime.HandlerNotFound', `${fullHandler} is not a function`);
  }
  return h;
}

// --- context ---------------------------------------------------------------------------------
function makeContext(headers, finish) {
  const deadline = Number(headers['lambda-runtime-deadline-ms'] || 0);
  const parse = (h) => {
    if (!h) return undefined;
    try {
      return JSON.parse(h);
    } catch (_e) {
      return undefined;
    }
  };
  const cognito = parse(headers['lambda-runtime-cognito-identity']);
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: cognito
      ? { cognitoIdentityId: cognito.cognitoIdentityId, cognitoIdentityPoolId: cognito.cognitoIdentityPoolId }
      : undefined,
    clientContext: parse(headers['lambda-runtime-client-context']),
    getRemainingTimeInMillis() {
      return Math.max(deadline - Date.now(), 0);
    },
    // Legacy completion methods, still honoured by AWS's runtime.
    done: (err, result) => finish(err, result),
    succeed: (result) => finish(null, result),
    fail: (err) => finish(err == null ? 'handled' : err),
  };
}

function invoke(handler, event, headers) {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (err, result) => {
      if (settled) return;
      settled = true;
      if (err !== undefined && err !== null) resolve({ error: err });
      else resolve({ result });
    };
    const context = makeContext(headers, finish);
    try {
      const ret = handler(event, context, finish);
      if (ret && typeof ret.then === 'function') {
        ret.then(
          (v) => finish(null, v),
          (e) => finish(e === undefined || e === null ? new Error(String(e)) : e),
        );
      } else if (handler.length < 3) {
        // A synchronous handler without a callback: AWS answers null once it returns.
        setImmediate(() => finish(null, null));
      }
    } catch (e) {
      finish(e === undefined || e === null ? new Error(String(e)) : e);
    }
  });
}

async function main() {
  patchConsole();
  const taskRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  try {
    process.chdir(taskRoot);
  } catch (_e) {
    // keep the current directory
  }
  let handler;
  try {
    handler = await loadHandler(taskRoot, process.env._HANDLER || '');
  } catch (e) {
    const doc = toRuntimeResponse(e);
    console.error('Uncaught Exception', '\t' + JSON.stringify(doc));
    await post('/init/error', JSON.stringify(doc), doc.errorType);
    process.exit(1);
  }
  process.on('uncaughtException', async (e) => {
    const doc = toRuntimeResponse(e);
    console.error('Uncaught Exception', '\t' + JSON.stringify(doc));
    if (currentRequestId) {
      await post(`/invocation/${currentRequestId}/error`, JSON.stringify(doc), doc.errorType).catch(() => {});
    }
    process.exit(129);
  });
  process.on('unhandledRejection', async (reason) => {
    const e = reason instanceof Error ? reason : new Error(String(reason));
    const doc = { errorType: 'Runtime.UnhandledPromiseRejection', errorMessage: `${e.name}: ${e.message}`, trace: String(e.stack || '').split('\n') };
    console.error('Unhandled Promise Rejection', '\t' + JSON.stringify(doc));
    if (currentRequestId) {
      await post(`/invocation/${currentRequestId}/error`, JSON.stringify(doc), doc.errorType).catch(() => {});
    }
    process.exit(128);
  });

  for (;;) {
    const next = await request('GET', '/invocation/next');
    if (next.status !== 200) throw new Error(`/invocation/next returned ${next.status}`);
    const id = next.headers['lambda-runtime-aws-request-id'];
    currentRequestId = id;
    const trace = next.headers['lambda-runtime-trace-id'];
    if (trace) process.env._X_AMZN_TRACE_ID = trace;
    else delete process.env._X_AMZN_TRACE_ID;
    let event;
    try {
      event = next.body.length ? JSON.parse(next.body.toString('utf8')) : {};
    } catch (e) {
      const doc = { errorType: 'Runtime.UnmarshalError', errorMessage: `Unable to unmarshal input: ${e.message}`, trace: [] };
      await post(`/invocation/${id}/error`, JSON.stringify(doc), doc.errorType);
      continue;
    }
    const out = await invoke(handler, event, next.headers);
    if ('error' in out) {
      const doc = toRuntimeResponse(out.error);
      console.error('Invoke Error', '\t' + JSON.stringify(doc));
      await post(`/invocation/${id}/error`, JSON.stringify(doc), doc.errorType);
      continue;
    }
    let body;
    try {
      body = JSON.stringify(out.result === undefined ? null : out.result);
    } catch (e) {
      const doc = { errorType: 'Runtime.MarshalError', errorMessage: `Unable to stringify response body: ${e.message}`, trace: [] };
      await post(`/invocation/${id}/error`, JSON.stringify(doc), doc.errorType);
      continue;
    }
    await post(`/invocation/${id}/response`, body === undefined ? 'null' : body);
  }
}

main().catch((e) => {
  process.stderr.write(`nimbus bootstrap: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
