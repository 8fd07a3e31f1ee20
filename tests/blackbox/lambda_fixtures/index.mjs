// Node.js ESM handler: echoes the event.
export const handler = async (event, context) => {
  return { node: process.version, event, requestId: context.awsRequestId };
};
