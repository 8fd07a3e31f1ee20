// Node.js handler using AWS SDK v3 from the runtime (not packaged): writes an item to
// DynamoDB and an object to S3, reads both back.
const { DynamoDBClient, PutItemCommand, GetItemCommand } = require("@aws-sdk/client-dynamodb");
const { S3Client, PutObjectCommand, GetObjectCommand } = require("@aws-sdk/client-s3");

const ddb = new DynamoDBClient({});
const s3 = new S3Client({ forcePathStyle: true });

exports.handler = async (event) => {
  await ddb.send(new PutItemCommand({
    TableName: event.table,
    Item: { pk: { S: event.pk }, from: { S: "node-sdk" } },
  }));
  const got = await ddb.send(new GetItemCommand({
    TableName: event.table, Key: { pk: { S: event.pk } }, ConsistentRead: true,
  }));
  await s3.send(new PutObjectCommand({ Bucket: event.bucket, Key: event.pk, Body: "from node" }));
  const obj = await s3.send(new GetObjectCommand({ Bucket: event.bucket, Key: event.pk }));
  return { item: got.Item, body: await obj.Body.transformToString() };
};
