// Node.js CommonJS handler (index.js, exports.handler, async): computes from the event.
exports.handler = async (event, context) => {
  const n = event.n;
  let fib = [0n, 1n];
  for (let i = 2; i <= n; i++) fib.push(fib[i - 1] + fib[i - 2]);
  const sum = (event.values || []).reduce((a, b) => a + b, 0);
  await new Promise((resolve) => setTimeout(resolve, 10));
  return {
    fib: fib[n].toString(),
    sum,
    upper: String(event.word || "").toUpperCase(),
    node: process.version,
    moduleType: typeof module,
    requestId: context.awsRequestId,
    functionName: context.functionName,
    remainingMs: context.getRemainingTimeInMillis(),
  };
};
