//! Round trips through the generated query-protocol dispatchers (IAM, STS).
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use nimbus_core::{Principal, RequestContext};
use nimbus_model::iam::{self, CreateUserRequest, CreateUserResponse, IamApi, User};
use nimbus_model::sts::{self, GetCallerIdentityRequest, GetCallerIdentityResponse, StsApi};
use nimbus_wire::{AwsError, AwsRequest, AwsResponse};

struct Iam;

impl IamApi for Iam {
    async fn create_user(
        &self,
        _ctx: &RequestContext,
        input: CreateUserRequest,
    ) -> Result<CreateUserResponse, AwsError> {
        let tags = input.tags.unwrap_or_default();
        Ok(CreateUserResponse {
            user: Some(User {
                path: input.path.unwrap_or_else(|| "/".into()),
                user_name: input.user_name.clone(),
                user_id: "AIDAEXAMPLE".into(),
                arn: format!("arn:aws:iam::000000000000:user/{}", input.user_name),
                create_date: 1_700_000_000.0,
                tags: (!tags.is_empty()).then_some(tags),
                ..Default::default()
            }),
        })
    }

    async fn delete_user(
        &self,
        _ctx: &RequestContext,
        input: iam::DeleteUserRequest,
    ) -> Result<(), AwsError> {
        if input.user_name == "ghost" {
            return Err(iam::errors::no_such_entity_exception(
                "The user with name ghost cannot be found.",
            ));
        }
        Ok(())
    }
}

struct Sts;

impl StsApi for Sts {
    async fn get_caller_identity(
        &self,
        ctx: &RequestContext,
        _input: GetCallerIdentityRequest,
    ) -> Result<GetCallerIdentityResponse, AwsError> {
        Ok(GetCallerIdentityResponse {
            user_id: Some(ctx.principal.user_id()),
            account: Some(ctx.account_id.clone()),
            arn: Some(ctx.principal.arn()),
        })
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

fn form(body: &str) -> AwsRequest {
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
    );
    AwsRequest {
        method: Method::POST,
        path: "/".into(),
        query: String::new(),
        headers,
        body: Bytes::from(body.to_string()),
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn iam_call(body: &str) -> AwsResponse {
    rt().block_on(iam::dispatch(&Iam, &ctx(), &form(body)))
}

fn text(resp: &AwsResponse) -> &str {
    std::str::from_utf8(&resp.body).unwrap()
}

#[test]
fn sts_get_caller_identity() {
    let resp = rt().block_on(sts::dispatch(
        &Sts,
        &ctx(),
        &form("Action=GetCallerIdentity&Version=2011-06-15"),
    ));
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.headers["content-type"], "text/xml");
    assert_eq!(
        text(&resp),
        "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
         <GetCallerIdentityResult><UserId>000000000000</UserId><Account>000000000000</Account>\
         <Arn>arn:aws:iam::000000000000:root</Arn></GetCallerIdentityResult>\
         <ResponseMetadata><RequestId>REQ1</RequestId></ResponseMetadata>\
         </GetCallerIdentityResponse>"
    );
}

#[test]
fn iam_create_user_with_tags() {
    let resp = iam_call(
        "Action=CreateUser&Version=2010-05-08&UserName=bob&Tags.member.1.Key=team&Tags.member.1.Value=a%20b",
    );
    assert_eq!(resp.status, StatusCode::OK, "{}", text(&resp));
    assert_eq!(
        text(&resp),
        "<CreateUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><CreateUserResult>\
         <User><Path>/</Path><UserName>bob</UserName><UserId>AIDAEXAMPLE</UserId>\
         <Arn>arn:aws:iam::000000000000:user/bob</Arn><CreateDate>2023-11-14T22:13:20Z</CreateDate>\
         <Tags><member><Key>team</Key><Value>a b</Value></member></Tags></User></CreateUserResult>\
         <ResponseMetadata><RequestId>REQ1</RequestId></ResponseMetadata></CreateUserResponse>"
    );
}

#[test]
fn iam_operation_without_output() {
    let resp = iam_call("Action=DeleteUser&Version=2010-05-08&UserName=bob");
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(
        text(&resp),
        "<DeleteUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
         <ResponseMetadata><RequestId>REQ1</RequestId></ResponseMetadata></DeleteUserResponse>"
    );
}

#[test]
fn iam_service_error() {
    let resp = iam_call("Action=DeleteUser&Version=2010-05-08&UserName=ghost");
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    assert_eq!(
        text(&resp),
        "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type>\
         <Code>NoSuchEntity</Code><Message>The user with name ghost cannot be found.</Message>\
         </Error><RequestId>REQ1</RequestId></ErrorResponse>"
    );
}

#[test]
fn iam_validation_errors() {
    let resp = iam_call("Action=CreateUser&Version=2010-05-08");
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    assert!(
        text(&resp).contains(
            "<Code>ValidationError</Code><Message>1 validation error detected: Value null at \
         'userName' failed to satisfy constraint: Member must not be null</Message>"
        ),
        "{}",
        text(&resp)
    );
    let resp = iam_call("Action=CreateUser&Version=2010-05-08&UserName=a%20b&Tags.member.1.Key=k");
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    assert!(
        text(&resp).contains(
            "<Message>2 validation errors detected: Value 'a b' at 'userName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+; Value null \
             at 'tags.1.member.value' failed to satisfy constraint: Member must not be null</Message>"
        ),
        "{}",
        text(&resp)
    );
}

#[test]
fn iam_unknown_and_missing_action() {
    let resp = iam_call("Action=Frobnicate&Version=2010-05-08");
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    assert!(text(&resp).contains(
        "<Code>InvalidAction</Code><Message>Could not find operation Frobnicate for version \
         2010-05-08</Message>"
    ));
    let resp = iam_call("Version=2010-05-08");
    assert!(text(&resp).contains("<Code>MissingAction</Code>"));
    let resp = iam_call("Action=ListUsers&Version=2010-05-08");
    assert_eq!(resp.status, StatusCode::NOT_IMPLEMENTED);
    assert!(text(&resp).contains("<Type>Receiver</Type><Code>NotImplementedException</Code>"));
}

#[test]
fn query_string_requests_work_too() {
    let mut req = form("");
    req.method = Method::GET;
    req.query = "Action=GetCallerIdentity&Version=2011-06-15".into();
    let resp = rt().block_on(sts::dispatch(&Sts, &ctx(), &req));
    assert_eq!(resp.status, StatusCode::OK);
}
