//! Round trips through the generated Lambda (restJson) dispatcher: routing by method and
//! path, members bound to labels, query parameters, headers, the JSON body and a raw
//! payload; responses with model status codes, header members and AWS's error shape.
#![allow(clippy::unwrap_used)]

use std::sync::Mutex;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use nimbus_core::{Principal, RequestContext};
use nimbus_model::lambda::{
    self, CreateFunctionRequest, DeleteAliasRequest, FunctionConfiguration, GetFunctionRequest,
    GetFunctionResponse, InvocationRequest, InvocationResponse, InvocationType, LambdaApi,
    ListFunctionsRequest, ListFunctionsResponse, LogType, Operation, Runtime, ThrottleReason,
    TooManyRequestsException, UntagResourceRequest,
};
use nimbus_wire::{AwsError, AwsRequest, AwsResponse};
use serde_json::{json, Value};

/// Records the last decoded input so tests can check the bindings.
#[derive(Default)]
struct Svc {
    seen: Mutex<Vec<String>>,
}

impl Svc {
    fn saw(&self, s: String) {
        self.seen.lock().unwrap().push(s);
    }
}

impl LambdaApi for Svc {
    async fn create_function(
        &self,
        _ctx: &RequestContext,
        input: CreateFunctionRequest,
    ) -> Result<FunctionConfiguration, AwsError> {
        self.saw(format!(
            "{} {:?} {:?} {:?}",
            input.function_name,
            input.runtime.as_ref().map(Runtime::as_str),
            input.code.zip_file.as_ref().map(Vec::len),
            input.timeout
        ));
        Ok(FunctionConfiguration {
            function_name: Some(input.function_name),
            runtime: input.runtime,
            timeout: Some(input.timeout.unwrap_or(3)),
            ..Default::default()
        })
    }

    async fn get_function(
        &self,
        _ctx: &RequestContext,
        input: GetFunctionRequest,
    ) -> Result<GetFunctionResponse, AwsError> {
        Err(lambda::errors::resource_not_found_exception(format!(
            "Function not found: arn:aws:lambda:us-east-1:000000000000:function:{}",
            input.function_name
        )))
    }

    async fn invoke(
        &self,
        _ctx: &RequestContext,
        input: InvocationRequest,
    ) -> Result<InvocationResponse, AwsError> {
        self.saw(format!(
            "{} {:?} {:?} {:?} {:?}",
            input.function_name,
            input.invocation_type.as_ref().map(InvocationType::as_str),
            input.log_type.as_ref().map(LogType::as_str),
            input.qualifier,
            input.payload.as_deref().map(String::from_utf8_lossy),
        ));
        if input.function_name == "throttled" {
            return Err(TooManyRequestsException {
                retry_after_seconds: Some("7".into()),
                message: Some("Rate Exceeded.".into()),
                reason: Some(ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded),
                r#type: None,
            }
            .into());
        }
        let event = input.invocation_type == Some(InvocationType::Event);
        Ok(InvocationResponse {
            status_code: Some(if event { 202 } else { 200 }),
            function_error: Some("Unhandled".into()),
            executed_version: Some("$LATEST".into()),
            payload: (!event).then(|| b"\"raw\"".to_vec()),
            ..Default::default()
        })
    }

    async fn list_functions(
        &self,
        _ctx: &RequestContext,
        input: ListFunctionsRequest,
    ) -> Result<ListFunctionsResponse, AwsError> {
        self.saw(format!("{:?} {:?}", input.max_items, input.marker));
        Ok(ListFunctionsResponse::default())
    }

    async fn untag_resource(
        &self,
        _ctx: &RequestContext,
        input: UntagResourceRequest,
    ) -> Result<(), AwsError> {
        self.saw(format!("{} {:?}", input.resource, input.tag_keys));
        Ok(())
    }

    async fn delete_alias(
        &self,
        _ctx: &RequestContext,
        input: DeleteAliasRequest,
    ) -> Result<(), AwsError> {
        self.saw(format!("{} {}", input.function_name, input.name));
        Ok(())
    }
}

fn ctx() -> RequestContext {
    RequestContext {
        account_id: "000000000000".into(),
        region: "us-east-1".into(),
        principal: Principal::root("000000000000", "test"),
        request_id: "REQ1".into(),
    }
}

fn request(
    method: Method,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> AwsRequest {
    let mut h = HeaderMap::new();
    for (k, v) in headers {
        h.insert(
            http::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    AwsRequest {
        method,
        path: path.into(),
        query: query.into(),
        headers: h,
        body: Bytes::copy_from_slice(body),
    }
}

fn call(svc: &Svc, req: &AwsRequest) -> AwsResponse {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(lambda::dispatch(svc, &ctx(), req))
}

fn body_json(resp: &AwsResponse) -> Value {
    serde_json::from_slice(&resp.body).unwrap()
}

fn op(method: Method, path: &str, query: &str) -> Option<Operation> {
    lambda::operation_from_request(&request(method, path, query, &[], b""))
}

#[test]
fn routes_follow_the_model() {
    assert_eq!(
        op(Method::GET, "/2015-03-31/functions", ""),
        Some(Operation::ListFunctions)
    );
    assert_eq!(
        op(Method::GET, "/2015-03-31/functions/", ""),
        Some(Operation::ListFunctions)
    );
    assert_eq!(
        op(Method::POST, "/2015-03-31/functions", ""),
        Some(Operation::CreateFunction)
    );
    assert_eq!(
        op(Method::GET, "/2015-03-31/functions/f", ""),
        Some(Operation::GetFunction)
    );
    assert_eq!(
        op(Method::DELETE, "/2015-03-31/functions/f", ""),
        Some(Operation::DeleteFunction)
    );
    assert_eq!(
        op(
            Method::GET,
            "/2015-03-31/functions/f/configuration",
            "Qualifier=1"
        ),
        Some(Operation::GetFunctionConfiguration)
    );
    assert_eq!(
        op(Method::POST, "/2015-03-31/functions/f/invocations", ""),
        Some(Operation::Invoke)
    );
    // Query literals of the template pick between operations on one path.
    assert_eq!(
        op(Method::GET, "/2018-10-31/layers", "find=LayerVersion&Arn=x"),
        Some(Operation::GetLayerVersionByArn)
    );
    assert_eq!(
        op(Method::GET, "/2018-10-31/layers", ""),
        Some(Operation::ListLayers)
    );
    assert_eq!(
        op(
            Method::GET,
            "/2019-09-30/functions/f/provisioned-concurrency",
            "List=ALL"
        ),
        Some(Operation::ListProvisionedConcurrencyConfigs)
    );
    assert_eq!(
        op(
            Method::GET,
            "/2019-09-30/functions/f/provisioned-concurrency",
            "Qualifier=a"
        ),
        Some(Operation::GetProvisionedConcurrencyConfig)
    );
    assert_eq!(op(Method::PATCH, "/2015-03-31/functions/f", ""), None);
    assert_eq!(op(Method::GET, "/2015-03-31/nothing", ""), None);
    let (o, labels) = lambda::route(&request(
        Method::DELETE,
        "/2015-03-31/functions/my%2Dfn/aliases/live",
        "",
        &[],
        b"",
    ))
    .unwrap();
    assert_eq!(o, Operation::DeleteAlias);
    assert_eq!(
        labels,
        vec![
            ("FunctionName", "my-fn".to_string()),
            ("Name", "live".to_string())
        ]
    );
}

#[test]
fn unknown_route_is_404_unknown_operation() {
    let resp = call(
        &Svc::default(),
        &request(Method::GET, "/2015-03-31/nothing", "", &[], b""),
    );
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    assert_eq!(
        resp.headers["x-amzn-errortype"],
        "UnknownOperationException"
    );
    assert_eq!(resp.headers["x-amzn-requestid"], "REQ1");
}

#[test]
fn create_function_binds_the_body_and_answers_201() {
    let svc = Svc::default();
    let body = json!({
        "FunctionName": "fn1",
        "Role": "arn:aws:iam::000000000000:role/r",
        "Runtime": "python3.12",
        "Handler": "app.handler",
        "Code": {"ZipFile": "UEsDBA=="},
        "Timeout": 30
    });
    let resp = call(
        &svc,
        &request(
            Method::POST,
            "/2015-03-31/functions",
            "",
            &[],
            body.to_string().as_bytes(),
        ),
    );
    assert_eq!(resp.status, StatusCode::CREATED, "{resp:?}");
    assert_eq!(resp.headers["content-type"], "application/json");
    assert_eq!(resp.headers["x-amzn-requestid"], "REQ1");
    assert_eq!(
        body_json(&resp),
        json!({"FunctionName": "fn1", "Runtime": "python3.12", "Timeout": 30})
    );
    assert_eq!(
        svc.seen.lock().unwrap()[0],
        "fn1 Some(\"python3.12\") Some(4) Some(30)"
    );
}

#[test]
fn body_violations_are_validation_exceptions() {
    let body = json!({
        "FunctionName": "fn1",
        "Runtime": "cobol",
        "Code": {},
        "Timeout": 0
    });
    let resp = call(
        &Svc::default(),
        &request(
            Method::POST,
            "/2015-03-31/functions",
            "",
            &[],
            body.to_string().as_bytes(),
        ),
    );
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    assert_eq!(resp.headers["x-amzn-errortype"], "ValidationException");
    let msg = body_json(&resp)["message"].as_str().unwrap().to_string();
    assert!(msg.starts_with("3 validation errors detected: "), "{msg}");
    assert!(
        msg.contains("Value null at 'role' failed to satisfy constraint: Member must not be null"),
        "{msg}"
    );
    assert!(msg.contains("Value '0' at 'timeout' failed to satisfy constraint: Member must have value greater than or equal to 1"), "{msg}");
    assert!(msg.contains("Value 'cobol' at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: ["), "{msg}");
}

#[test]
fn malformed_body_is_invalid_request_content() {
    let resp = call(
        &Svc::default(),
        &request(Method::POST, "/2015-03-31/functions", "", &[], b"{not json"),
    );
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        resp.headers["x-amzn-errortype"],
        "InvalidRequestContentException"
    );
    let v = body_json(&resp);
    assert_eq!(v["Type"], "User");
    assert!(v["message"]
        .as_str()
        .unwrap()
        .starts_with("Could not parse request body into json: "));
}

#[test]
fn uri_labels_are_validated_with_the_member_path() {
    // Percent-decoded before the check: `bad name` breaks the name pattern.
    let resp = call(
        &Svc::default(),
        &request(
            Method::GET,
            "/2015-03-31/functions/bad%20name",
            "",
            &[],
            b"",
        ),
    );
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    let msg = body_json(&resp)["message"].as_str().unwrap().to_string();
    assert!(
        msg.starts_with("1 validation error detected: Value 'bad name' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: "),
        "{msg}"
    );
    // A name the (lookahead) pattern accepts reaches the service.
    let resp = call(
        &Svc::default(),
        &request(
            Method::GET,
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Afn1",
            "",
            &[],
            b"",
        ),
    );
    assert_eq!(resp.status, StatusCode::NOT_FOUND, "{:?}", body_json(&resp));
}

#[test]
fn query_parameters_bind_scalars_and_lists() {
    let svc = Svc::default();
    let resp = call(
        &svc,
        &request(
            Method::GET,
            "/2015-03-31/functions",
            "MaxItems=5&Marker=a%2Bb",
            &[],
            b"",
        ),
    );
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(body_json(&resp), json!({}));
    let resp = call(
        &svc,
        &request(
            Method::DELETE,
            "/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af",
            "tagKeys=a&tagKeys=b%20c",
            &[],
            b"",
        ),
    );
    assert_eq!(resp.status, StatusCode::NO_CONTENT);
    assert!(resp.body.is_empty());
    let seen = svc.seen.lock().unwrap().clone();
    assert_eq!(seen[0], "Some(5) Some(\"a+b\")");
    assert_eq!(
        seen[1],
        "arn:aws:lambda:us-east-1:000000000000:function:f [\"a\", \"b c\"]"
    );
    let resp = call(
        &svc,
        &request(Method::GET, "/2015-03-31/functions", "MaxItems=0", &[], b""),
    );
    assert_eq!(
        body_json(&resp)["message"],
        "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1"
    );
    let resp = call(
        &svc,
        &request(
            Method::GET,
            "/2015-03-31/functions",
            "MaxItems=many",
            &[],
            b"",
        ),
    );
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
}

#[test]
fn invoke_binds_headers_and_raw_payload() {
    let svc = Svc::default();
    let resp = call(
        &svc,
        &request(
            Method::POST,
            "/2015-03-31/functions/fn1/invocations",
            "Qualifier=live",
            &[
                ("x-amz-invocation-type", "RequestResponse"),
                ("x-amz-log-type", "Tail"),
            ],
            b"{\"k\": 1}",
        ),
    );
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.headers["x-amz-function-error"], "Unhandled");
    assert_eq!(resp.headers["x-amz-executed-version"], "$LATEST");
    assert_eq!(resp.headers["content-type"], "application/json");
    assert_eq!(&resp.body[..], b"\"raw\"");
    assert_eq!(
        svc.seen.lock().unwrap()[0],
        "fn1 Some(\"RequestResponse\") Some(\"Tail\") Some(\"live\") Some(\"{\\\"k\\\": 1}\")"
    );
    // The statusCode member overrides the model's 200.
    let resp = call(
        &svc,
        &request(
            Method::POST,
            "/2015-03-31/functions/fn1/invocations",
            "",
            &[("x-amz-invocation-type", "Event")],
            b"{}",
        ),
    );
    assert_eq!(resp.status, StatusCode::ACCEPTED);
    assert!(resp.body.is_empty());
    // Header values are checked like body members.
    let resp = call(
        &svc,
        &request(
            Method::POST,
            "/2015-03-31/functions/fn1/invocations",
            "",
            &[("x-amz-invocation-type", "Later")],
            b"{}",
        ),
    );
    assert_eq!(
        body_json(&resp)["message"],
        "1 validation error detected: Value 'Later' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
    );
}

#[test]
fn modeled_errors_use_lambdas_body_and_headers() {
    let resp = call(
        &Svc::default(),
        &request(Method::GET, "/2015-03-31/functions/fn1", "", &[], b""),
    );
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    assert_eq!(
        resp.headers["x-amzn-errortype"],
        "ResourceNotFoundException"
    );
    assert_eq!(
        std::str::from_utf8(&resp.body).unwrap(),
        r#"{"Type":"User","Message":"Function not found: arn:aws:lambda:us-east-1:000000000000:function:fn1"}"#
    );

    let resp = call(
        &Svc::default(),
        &request(
            Method::POST,
            "/2015-03-31/functions/throttled/invocations",
            "",
            &[],
            b"{}",
        ),
    );
    assert_eq!(resp.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers["x-amzn-errortype"], "TooManyRequestsException");
    assert_eq!(resp.headers["retry-after"], "7");
    assert_eq!(
        body_json(&resp),
        json!({"Type": "User", "message": "Rate Exceeded.", "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"})
    );
}

#[test]
fn operations_without_output_answer_their_model_status() {
    let svc = Svc::default();
    let resp = call(
        &svc,
        &request(
            Method::DELETE,
            "/2015-03-31/functions/fn1/aliases/live",
            "",
            &[],
            b"",
        ),
    );
    assert_eq!(resp.status, StatusCode::NO_CONTENT);
    assert!(resp.body.is_empty());
    assert_eq!(svc.seen.lock().unwrap()[0], "fn1 live");
    // Not implemented operations answer AWS-style rather than failing.
    let resp = call(
        &svc,
        &request(Method::GET, "/2016-08-19/account-settings", "", &[], b""),
    );
    assert_eq!(resp.status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(resp.headers["x-amzn-errortype"], "NotImplementedException");
}
