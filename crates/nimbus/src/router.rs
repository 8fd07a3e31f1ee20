//! Which AWS service a request is for.
//!
//! Every service shares one port, so the service is read off the request, in this order
//! (the first rule that matches wins):
//! 1. `X-Amz-Target` prefix (awsJson services: DynamoDB, DynamoDB Streams, Logs, ...);
//! 2. the SigV4 credential scope's service (header or presigned query);
//! 3. the `Host` header (`*.s3.*`, `*.lambda-url.*`, `*.execute-api.*`);
//! 4. the path (`/2015-03-31/functions` and friends are Lambda's);
//! 5. the `Action=` parameter of query-protocol requests (unsigned ones have no scope).
//!
//! Target prefixes come first because DynamoDB Streams signs with DynamoDB's name.
//! Each rule is a table; adding a service is a row, not code.

use nimbus_wire::{sigv4, AwsRequest, Protocol};

/// Every service nimbus knows the wire identity of, implemented or not. Knowing the
/// unimplemented ones lets a client get an error in its own protocol instead of a
/// confusing one in someone else's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceId {
    DynamoDb,
    DynamoDbStreams,
    Sts,
    Iam,
    S3,
    Lambda,
    Sqs,
    Sns,
    Logs,
    CloudWatch,
    Events,
    Scheduler,
    Kinesis,
    Firehose,
    StepFunctions,
    CloudFormation,
    ApiGateway,
    CognitoIdp,
    CognitoIdentity,
    Ecs,
    RdsData,
    Kms,
    SecretsManager,
    Ssm,
}

/// Static facts about a service's wire identity.
#[derive(Debug, Clone, Copy)]
pub struct ServiceInfo {
    /// The name used in health output and messages (the endpoint prefix).
    pub name: &'static str,
    /// SigV4 signing names accepted in the credential scope; the first is canonical.
    pub signing_names: &'static [&'static str],
    pub protocol: Protocol,
    /// Query protocol: the XML namespace of responses and errors.
    pub xml_namespace: &'static str,
}

impl ServiceId {
    pub const ALL: [ServiceId; 24] = [
        ServiceId::DynamoDb,
        ServiceId::DynamoDbStreams,
        ServiceId::Sts,
        ServiceId::Iam,
        ServiceId::S3,
        ServiceId::Lambda,
        ServiceId::Sqs,
        ServiceId::Sns,
        ServiceId::Logs,
        ServiceId::CloudWatch,
        ServiceId::Events,
        ServiceId::Scheduler,
        ServiceId::Kinesis,
        ServiceId::Firehose,
        ServiceId::StepFunctions,
        ServiceId::CloudFormation,
        ServiceId::ApiGateway,
        ServiceId::CognitoIdp,
        ServiceId::CognitoIdentity,
        ServiceId::Ecs,
        ServiceId::RdsData,
        ServiceId::Kms,
        ServiceId::SecretsManager,
        ServiceId::Ssm,
    ];

    pub fn info(self) -> ServiceInfo {
        use Protocol::*;
        let (name, signing_names, protocol, xml_namespace): (_, &'static [&'static str], _, _) =
            match self {
                ServiceId::DynamoDb => ("dynamodb", &["dynamodb"], AwsJson10, ""),
                ServiceId::DynamoDbStreams => ("streams.dynamodb", &["dynamodb"], AwsJson10, ""),
                ServiceId::Sts => (
                    "sts",
                    &["sts"],
                    Query,
                    "https://sts.amazonaws.com/doc/2011-06-15/",
                ),
                ServiceId::Iam => (
                    "iam",
                    &["iam"],
                    Query,
                    "https://iam.amazonaws.com/doc/2010-05-08/",
                ),
                ServiceId::S3 => (
                    "s3",
                    &["s3"],
                    RestXml,
                    "http://s3.amazonaws.com/doc/2006-03-01/",
                ),
                ServiceId::Lambda => ("lambda", &["lambda"], RestJson, ""),
                // SQS speaks awsJson 1.0 today (X-Amz-Target AmazonSQS.*) and query before.
                ServiceId::Sqs => (
                    "sqs",
                    &["sqs"],
                    Query,
                    "http://queue.amazonaws.com/doc/2012-11-05/",
                ),
                ServiceId::Sns => (
                    "sns",
                    &["sns"],
                    Query,
                    "http://sns.amazonaws.com/doc/2010-03-31/",
                ),
                ServiceId::Logs => ("logs", &["logs"], AwsJson11, ""),
                ServiceId::CloudWatch => (
                    "monitoring",
                    &["monitoring"],
                    Query,
                    "http://monitoring.amazonaws.com/doc/2010-08-01/",
                ),
                ServiceId::Events => ("events", &["events"], AwsJson11, ""),
                ServiceId::Scheduler => ("scheduler", &["scheduler"], RestJson, ""),
                ServiceId::Kinesis => ("kinesis", &["kinesis"], AwsJson11, ""),
                ServiceId::Firehose => ("firehose", &["firehose"], AwsJson11, ""),
                ServiceId::StepFunctions => ("states", &["states"], AwsJson10, ""),
                ServiceId::CloudFormation => (
                    "cloudformation",
                    &["cloudformation"],
                    Query,
                    "http://cloudformation.amazonaws.com/doc/2010-05-15/",
                ),
                ServiceId::ApiGateway => {
                    ("apigateway", &["apigateway", "execute-api"], RestJson, "")
                }
                ServiceId::CognitoIdp => ("cognito-idp", &["cognito-idp"], AwsJson11, ""),
                ServiceId::CognitoIdentity => {
                    ("cognito-identity", &["cognito-identity"], AwsJson11, "")
                }
                ServiceId::Ecs => ("ecs", &["ecs"], AwsJson11, ""),
                ServiceId::RdsData => ("rds-data", &["rds-data"], RestJson, ""),
                ServiceId::Kms => ("kms", &["kms"], AwsJson11, ""),
                ServiceId::SecretsManager => ("secretsmanager", &["secretsmanager"], AwsJson11, ""),
                ServiceId::Ssm => ("ssm", &["ssm"], AwsJson11, ""),
            };
        ServiceInfo {
            name,
            signing_names,
            protocol,
            xml_namespace,
        }
    }

    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The protocol this request uses: SQS accepts both awsJson (with `X-Amz-Target`) and
    /// the older query protocol.
    pub fn protocol_for(self, req: &AwsRequest) -> Protocol {
        if self == ServiceId::Sqs && req.headers.contains_key("x-amz-target") {
            return Protocol::AwsJson10;
        }
        self.info().protocol
    }
}

/// Rule 1: `X-Amz-Target: <prefix>.<Operation>`.
const TARGET_PREFIXES: &[(&str, ServiceId)] = &[
    ("DynamoDB_20120810", ServiceId::DynamoDb),
    ("DynamoDBStreams_20120810", ServiceId::DynamoDbStreams),
    ("Logs_20140328", ServiceId::Logs),
    ("AmazonSQS", ServiceId::Sqs),
    ("AWSEvents", ServiceId::Events),
    ("Kinesis_20131202", ServiceId::Kinesis),
    ("Firehose_20150804", ServiceId::Firehose),
    ("AWSStepFunctions", ServiceId::StepFunctions),
    ("AWSCognitoIdentityProviderService", ServiceId::CognitoIdp),
    ("AWSCognitoIdentityService", ServiceId::CognitoIdentity),
    ("AmazonEC2ContainerServiceV20141113", ServiceId::Ecs),
    ("GraniteServiceVersion20100801", ServiceId::CloudWatch),
    ("TrentService", ServiceId::Kms),
    ("secretsmanager", ServiceId::SecretsManager),
    ("AmazonSSM", ServiceId::Ssm),
];

/// Rule 2: credential-scope service (signing name). `dynamodb` means DynamoDB itself:
/// Streams requests were already claimed by their target prefix.
const SIGNING_NAMES: &[(&str, ServiceId)] = &[
    ("dynamodb", ServiceId::DynamoDb),
    ("sts", ServiceId::Sts),
    ("iam", ServiceId::Iam),
    ("s3", ServiceId::S3),
    ("lambda", ServiceId::Lambda),
    ("sqs", ServiceId::Sqs),
    ("sns", ServiceId::Sns),
    ("logs", ServiceId::Logs),
    ("monitoring", ServiceId::CloudWatch),
    ("events", ServiceId::Events),
    ("scheduler", ServiceId::Scheduler),
    ("kinesis", ServiceId::Kinesis),
    ("firehose", ServiceId::Firehose),
    ("states", ServiceId::StepFunctions),
    ("cloudformation", ServiceId::CloudFormation),
    ("apigateway", ServiceId::ApiGateway),
    ("execute-api", ServiceId::ApiGateway),
    ("cognito-idp", ServiceId::CognitoIdp),
    ("cognito-identity", ServiceId::CognitoIdentity),
    ("ecs", ServiceId::Ecs),
    ("rds-data", ServiceId::RdsData),
    ("kms", ServiceId::Kms),
    ("secretsmanager", ServiceId::SecretsManager),
    ("ssm", ServiceId::Ssm),
];

/// Rule 3: a label of the `Host` header (virtual-hosted S3, function URLs, API
/// Gateway endpoints). Matched against every label but the first, which is the bucket,
/// url id or api id.
const HOST_LABELS: &[(&str, ServiceId)] = &[
    ("s3", ServiceId::S3),
    ("lambda-url", ServiceId::Lambda),
    ("execute-api", ServiceId::ApiGateway),
];

/// Rule 4: path prefixes of REST services.
const PATH_PREFIXES: &[(&str, ServiceId)] = &[
    ("/2015-03-31/functions", ServiceId::Lambda),
    ("/2015-03-31/event-source-mappings", ServiceId::Lambda),
    ("/2015-03-31/tags", ServiceId::Lambda),
    ("/2016-08-19/account-settings", ServiceId::Lambda),
    ("/2017-03-31/tags", ServiceId::Lambda),
    ("/2018-10-31/layers", ServiceId::Lambda),
    ("/2019-09-25/functions", ServiceId::Lambda),
    ("/2019-09-30/functions", ServiceId::Lambda),
    ("/2020-04-22/code-signing-configs", ServiceId::Lambda),
    ("/2021-10-31/functions", ServiceId::Lambda),
    ("/restapis", ServiceId::ApiGateway),
    ("/v2/apis", ServiceId::ApiGateway),
];

/// Rule 5: `Action=` values of unsigned query-protocol requests. STS's are all listed;
/// IAM, SQS and SNS by their most common operations (an unsigned request only needs the
/// right protocol for its `MissingAuthenticationToken` answer).
const QUERY_ACTIONS: &[(&str, ServiceId)] = &[
    ("AssumeRole", ServiceId::Sts),
    ("AssumeRoleWithSAML", ServiceId::Sts),
    ("AssumeRoleWithWebIdentity", ServiceId::Sts),
    ("AssumeRoot", ServiceId::Sts),
    ("DecodeAuthorizationMessage", ServiceId::Sts),
    ("GetAccessKeyInfo", ServiceId::Sts),
    ("GetCallerIdentity", ServiceId::Sts),
    ("GetFederationToken", ServiceId::Sts),
    ("GetSessionToken", ServiceId::Sts),
    ("CreateUser", ServiceId::Iam),
    ("GetUser", ServiceId::Iam),
    ("ListUsers", ServiceId::Iam),
    ("DeleteUser", ServiceId::Iam),
    ("CreateRole", ServiceId::Iam),
    ("GetRole", ServiceId::Iam),
    ("ListRoles", ServiceId::Iam),
    ("DeleteRole", ServiceId::Iam),
    ("CreatePolicy", ServiceId::Iam),
    ("GetPolicy", ServiceId::Iam),
    ("ListPolicies", ServiceId::Iam),
    ("CreateAccessKey", ServiceId::Iam),
    ("ListAccessKeys", ServiceId::Iam),
    ("PutUserPolicy", ServiceId::Iam),
    ("PutRolePolicy", ServiceId::Iam),
    ("AttachRolePolicy", ServiceId::Iam),
    ("AttachUserPolicy", ServiceId::Iam),
    ("CreateQueue", ServiceId::Sqs),
    ("SendMessage", ServiceId::Sqs),
    ("ReceiveMessage", ServiceId::Sqs),
    ("ListQueues", ServiceId::Sqs),
    ("GetQueueUrl", ServiceId::Sqs),
    ("CreateTopic", ServiceId::Sns),
    ("Publish", ServiceId::Sns),
    ("ListTopics", ServiceId::Sns),
    ("Subscribe", ServiceId::Sns),
    ("CreateStack", ServiceId::CloudFormation),
    ("DescribeStacks", ServiceId::CloudFormation),
    ("PutMetricData", ServiceId::CloudWatch),
];

fn lookup<T: Copy>(table: &[(&str, T)], key: &str) -> Option<T> {
    table.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

fn by_target(req: &AwsRequest) -> Option<ServiceId> {
    let target = req.headers.get("x-amz-target")?.to_str().ok()?;
    let prefix = target.split_once('.').map_or(target, |(p, _)| p);
    lookup(TARGET_PREFIXES, prefix)
}

/// The scope's service without validating anything else (cheap: no allocation).
fn scope_service(req: &AwsRequest) -> Option<&str> {
    if let Some(auth) = req
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
    {
        let cred = auth.split("Credential=").nth(1)?;
        let cred = cred.split([',', ' ']).next()?;
        return cred.split('/').nth(3);
    }
    if req.query.contains("X-Amz-Credential=") {
        let raw = req
            .query
            .split('&')
            .find_map(|p| p.strip_prefix("X-Amz-Credential="))?;
        // The credential arrives percent-encoded (`%2F` for `/`); only the 4th element
        // matters and service names are plain ASCII.
        let decoded = sigv4::percent_decode(raw);
        let text = std::str::from_utf8(&decoded).ok()?;
        let service = text.split('/').nth(3)?;
        // Borrow from a table instead of the temporary: the name is in SIGNING_NAMES
        // or is irrelevant.
        return SIGNING_NAMES
            .iter()
            .find(|(k, _)| *k == service)
            .map(|(k, _)| *k);
    }
    None
}

fn by_scope(req: &AwsRequest) -> Option<ServiceId> {
    lookup(SIGNING_NAMES, scope_service(req)?)
}

fn by_host(req: &AwsRequest) -> Option<ServiceId> {
    let host = req.headers.get("host")?.to_str().ok()?;
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    let mut labels = host.split('.');
    let first = labels.next()?;
    // `s3.amazonaws.com`, `s3.us-east-1.amazonaws.com`, `s3-us-west-2.amazonaws.com`.
    if first == "s3" || first.starts_with("s3-") {
        return Some(ServiceId::S3);
    }
    labels.find_map(|label| lookup(HOST_LABELS, label))
}

fn by_path(req: &AwsRequest) -> Option<ServiceId> {
    PATH_PREFIXES
        .iter()
        .find(|(prefix, _)| {
            req.path.starts_with(prefix)
                && matches!(
                    req.path.as_bytes().get(prefix.len()),
                    None | Some(b'/') | Some(b'?')
                )
        })
        .map(|(_, s)| *s)
}

fn by_action(req: &AwsRequest) -> Option<ServiceId> {
    let find_action = |s: &str| -> Option<String> {
        s.split('&')
            .find_map(|p| p.strip_prefix("Action="))
            .map(|v| String::from_utf8_lossy(&sigv4::percent_decode(v)).into_owned())
    };
    let is_form = req
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let action = find_action(&req.query).or_else(|| {
        if is_form {
            std::str::from_utf8(&req.body).ok().and_then(find_action)
        } else {
            None
        }
    })?;
    lookup(QUERY_ACTIONS, &action)
}

/// The service a request is for, or `None` when nothing identifies one.
pub fn route(req: &AwsRequest) -> Option<ServiceId> {
    by_target(req)
        .or_else(|| by_scope(req))
        .or_else(|| by_host(req))
        .or_else(|| by_path(req))
        .or_else(|| by_action(req))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::{HeaderMap, Method};

    fn req(
        method: &str,
        path: &str,
        query: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> AwsRequest {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(
                http::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        AwsRequest {
            method: Method::from_bytes(method.as_bytes()).unwrap(),
            path: path.into(),
            query: query.into(),
            headers: h,
            body: Bytes::from(body.to_string()),
        }
    }

    fn auth(service: &str) -> String {
        format!("AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/{service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=00")
    }

    #[test]
    fn routing_table() {
        let dynamo_auth = auth("dynamodb");
        let sts_auth = auth("sts");
        let iam_auth = auth("iam");
        let s3_auth = auth("s3");
        let bogus_auth = auth("nosuchservice");
        let form = (
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        );
        #[rustfmt::skip]
        let cases: Vec<(&str, AwsRequest, Option<ServiceId>)> = vec![
            ("dynamodb target", req("POST", "/", "", &[("x-amz-target", "DynamoDB_20120810.GetItem"), ("authorization", &dynamo_auth)], "{}"), Some(ServiceId::DynamoDb)),
            ("streams target beats dynamodb scope", req("POST", "/", "", &[("x-amz-target", "DynamoDBStreams_20120810.GetRecords"), ("authorization", &dynamo_auth)], "{}"), Some(ServiceId::DynamoDbStreams)),
            ("logs target", req("POST", "/", "", &[("x-amz-target", "Logs_20140328.PutLogEvents")], "{}"), Some(ServiceId::Logs)),
            ("sqs json target", req("POST", "/", "", &[("x-amz-target", "AmazonSQS.SendMessage")], "{}"), Some(ServiceId::Sqs)),
            ("unknown target falls through to scope", req("POST", "/", "", &[("x-amz-target", "Nope_2020.X"), ("authorization", &dynamo_auth)], "{}"), Some(ServiceId::DynamoDb)),
            ("unsigned dynamodb by target only", req("POST", "/", "", &[("x-amz-target", "DynamoDB_20120810.ListTables")], ""), Some(ServiceId::DynamoDb)),
            ("sts by scope", req("POST", "/", "", &[("authorization", &sts_auth), form], "Action=GetCallerIdentity&Version=2011-06-15"), Some(ServiceId::Sts)),
            ("iam by scope", req("POST", "/", "", &[("authorization", &iam_auth), form], "Action=ListUsers&Version=2010-05-08"), Some(ServiceId::Iam)),
            ("scope beats action", req("POST", "/", "", &[("authorization", &iam_auth), form], "Action=GetCallerIdentity"), Some(ServiceId::Iam)),
            ("presigned scope", req("GET", "/bucket/key", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261126%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=00", &[("host", "localhost:4566")], ""), Some(ServiceId::S3)),
            ("presigned sts", req("GET", "/", "Action=GetCallerIdentity&X-Amz-Credential=AKID%2F20261126%2Fus-east-1%2Fsts%2Faws4_request", &[], ""), Some(ServiceId::Sts)),
            ("s3 by scope", req("PUT", "/bucket/key", "", &[("authorization", &s3_auth)], "data"), Some(ServiceId::S3)),
            ("virtual-hosted s3", req("GET", "/key", "", &[("host", "bucket.s3.localhost.localstack.cloud:4566")], ""), Some(ServiceId::S3)),
            ("s3 regional endpoint", req("GET", "/", "", &[("host", "s3.us-west-2.amazonaws.com")], ""), Some(ServiceId::S3)),
            ("legacy s3 endpoint", req("GET", "/", "", &[("host", "s3-us-west-2.amazonaws.com")], ""), Some(ServiceId::S3)),
            ("function url", req("GET", "/", "", &[("host", "abcdef.lambda-url.us-east-1.localhost:4566")], ""), Some(ServiceId::Lambda)),
            ("execute-api host", req("GET", "/prod/items", "", &[("host", "a1b2c3.execute-api.localhost:4566")], ""), Some(ServiceId::ApiGateway)),
            ("plain localhost is nothing", req("GET", "/", "", &[("host", "localhost:4566")], ""), None),
            ("bucket named s3 is not a host match", req("GET", "/", "", &[("host", "mys3bucket.localhost")], ""), None),
            ("lambda path", req("GET", "/2015-03-31/functions/", "", &[], ""), Some(ServiceId::Lambda)),
            ("lambda invoke path", req("POST", "/2015-03-31/functions/fn/invocations", "", &[], ""), Some(ServiceId::Lambda)),
            ("prefix must end at a segment", req("GET", "/2015-03-31/functionsX", "", &[], ""), None),
            ("unsigned sts by form action", req("POST", "/", "", &[form], "Action=GetCallerIdentity&Version=2011-06-15"), Some(ServiceId::Sts)),
            ("unsigned iam by query action", req("GET", "/", "Action=ListUsers&Version=2010-05-08", &[], ""), Some(ServiceId::Iam)),
            ("form body ignored without form content type", req("POST", "/", "", &[("content-type", "application/json")], "Action=GetCallerIdentity"), None),
            ("unknown action", req("POST", "/", "", &[form], "Action=Frobnicate"), None),
            ("unknown scope service", req("POST", "/", "", &[("authorization", &bogus_auth)], ""), None),
            ("nothing at all", req("GET", "/", "", &[], ""), None),
        ];
        for (name, r, expected) in cases {
            assert_eq!(route(&r), expected, "case: {name}");
        }
    }

    #[test]
    fn every_service_has_consistent_info() {
        for s in ServiceId::ALL {
            let info = s.info();
            assert!(!info.name.is_empty());
            assert!(!info.signing_names.is_empty());
            if info.protocol == Protocol::Query {
                assert!(info.xml_namespace.starts_with("http"), "{s:?}");
            }
        }
        // Every table entry points at a listed service, and signing names resolve back.
        for (name, s) in SIGNING_NAMES {
            assert!(s.info().signing_names.contains(name), "{name} -> {s:?}");
        }
    }

    #[test]
    fn sqs_protocol_depends_on_target() {
        let json = req(
            "POST",
            "/",
            "",
            &[("x-amz-target", "AmazonSQS.SendMessage")],
            "{}",
        );
        assert_eq!(ServiceId::Sqs.protocol_for(&json), Protocol::AwsJson10);
        let query = req("POST", "/", "", &[], "Action=SendMessage");
        assert_eq!(ServiceId::Sqs.protocol_for(&query), Protocol::Query);
    }
}
