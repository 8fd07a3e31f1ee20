#![allow(clippy::unwrap_used)]
//! IAM and STS behaviour through their traits and the generated dispatch.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use nimbus_core::{ManualClock, Principal, PrincipalKind, RequestContext};
use nimbus_model::iam::{self as m, IamApi};
use nimbus_model::sts::{self as s, StsApi};
use nimbus_store::Db;
use nimbus_wire::{AwsError, AwsRequest};

use crate::credentials::{CredentialStore, StaticCredentials};
use crate::service::IamState;
use crate::store_credentials::IamCredentialStore;
use crate::{Iam, Sts};

const ACCOUNT: &str = "123456789012";
const T0_MS: i64 = 1_795_000_000_000;
const POLICY: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

struct Fixture {
    db: Db,
    clock: Arc<ManualClock>,
    iam: Iam,
    sts: Sts,
}

fn fixture() -> Fixture {
    let db = Db::in_memory();
    let clock = Arc::new(ManualClock::new(T0_MS));
    let state = IamState::new(db.clone(), clock.clone());
    Fixture {
        db,
        clock,
        iam: Iam::new(state.clone()),
        sts: Sts::new(state),
    }
}

fn root() -> RequestContext {
    RequestContext {
        account_id: ACCOUNT.into(),
        region: "us-east-1".into(),
        principal: Principal::root(ACCOUNT, "AKIAROOT"),
        request_id: "rid".into(),
    }
}

fn assert_err(e: AwsError, code: &str, status: u16, message: &str) {
    assert_eq!(
        (e.code.as_str(), e.status.as_u16(), e.message.as_str()),
        (code, status, message)
    );
}

async fn create_user(f: &Fixture, name: &str) -> m::User {
    f.iam
        .create_user(
            &root(),
            m::CreateUserRequest {
                user_name: name.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .user
        .unwrap()
}

async fn create_role(f: &Fixture, name: &str) -> m::Role {
    f.iam
        .create_role(
            &root(),
            m::CreateRoleRequest {
                role_name: name.into(),
                assume_role_policy_document: TRUST.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .role
}

#[tokio::test]
async fn user_lifecycle() {
    let f = fixture();
    let u = create_user(&f, "alice").await;
    assert_eq!(u.arn, "arn:aws:iam::123456789012:user/alice");
    assert_eq!(u.path, "/");
    assert!(u.user_id.starts_with("AIDA"));
    assert_eq!(u.create_date, (T0_MS / 1000) as f64);

    let e = f
        .iam
        .create_user(
            &root(),
            m::CreateUserRequest {
                user_name: "ALICE".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_err(
        e,
        "EntityAlreadyExists",
        409,
        "User with name ALICE already exists.",
    );

    let got = f
        .iam
        .get_user(
            &root(),
            m::GetUserRequest {
                user_name: Some("alice".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(got.user.user_id, u.user_id);
    let e = f
        .iam
        .get_user(
            &root(),
            m::GetUserRequest {
                user_name: Some("bob".into()),
            },
        )
        .await
        .unwrap_err();
    assert_err(
        e,
        "NoSuchEntity",
        404,
        "The user with name bob cannot be found.",
    );
    assert_eq!(
        e_type_prefix(&f, "bob").await,
        "https://iam.amazonaws.com/doc/2010-05-08/"
    );

    for n in ["bob", "carol", "dave"] {
        create_user(&f, n).await;
    }
    let page = f
        .iam
        .list_users(
            &root(),
            m::ListUsersRequest {
                max_items: Some(3),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        page.users
            .iter()
            .map(|u| u.user_name.as_str())
            .collect::<Vec<_>>(),
        ["alice", "bob", "carol"]
    );
    assert_eq!(page.is_truncated, Some(true));
    let rest = f
        .iam
        .list_users(
            &root(),
            m::ListUsersRequest {
                marker: page.marker,
                max_items: Some(3),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.users.len(), 1);
    assert_eq!(rest.is_truncated, Some(false));
    assert_eq!(rest.marker, None);

    // Another account sees none of them.
    let mut other = root();
    other.account_id = "210987654321".into();
    let none = f
        .iam
        .list_users(&other, m::ListUsersRequest::default())
        .await
        .unwrap();
    assert!(none.users.is_empty());

    f.iam
        .delete_user(
            &root(),
            m::DeleteUserRequest {
                user_name: "dave".into(),
            },
        )
        .await
        .unwrap();
    let e = f
        .iam
        .delete_user(
            &root(),
            m::DeleteUserRequest {
                user_name: "dave".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, "NoSuchEntity");
}

async fn e_type_prefix(f: &Fixture, name: &str) -> String {
    let e = f
        .iam
        .get_user(
            &root(),
            m::GetUserRequest {
                user_name: Some(name.into()),
            },
        )
        .await
        .unwrap_err();
    e.type_prefix.unwrap_or_default()
}

#[tokio::test]
async fn delete_user_conflicts_in_order() {
    let f = fixture();
    create_user(&f, "u").await;
    let pol = f
        .iam
        .create_policy(
            &root(),
            m::CreatePolicyRequest {
                policy_name: "p".into(),
                policy_document: POLICY.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .policy
        .unwrap();
    let arn = pol.arn.clone().unwrap();
    f.iam
        .put_user_policy(
            &root(),
            m::PutUserPolicyRequest {
                user_name: "u".into(),
                policy_name: "inline".into(),
                policy_document: POLICY.into(),
            },
        )
        .await
        .unwrap();
    f.iam
        .attach_user_policy(
            &root(),
            m::AttachUserPolicyRequest {
                user_name: "u".into(),
                policy_arn: arn.clone(),
            },
        )
        .await
        .unwrap();
    f.iam
        .create_access_key(
            &root(),
            m::CreateAccessKeyRequest {
                user_name: Some("u".into()),
            },
        )
        .await
        .unwrap();

    let ctx = root();
    let del = || {
        f.iam.delete_user(
            &ctx,
            m::DeleteUserRequest {
                user_name: "u".into(),
            },
        )
    };
    assert_err(
        del().await.unwrap_err(),
        "DeleteConflict",
        409,
        "Cannot delete entity, must delete policies first.",
    );
    f.iam
        .delete_user_policy(
            &root(),
            m::DeleteUserPolicyRequest {
                user_name: "u".into(),
                policy_name: "inline".into(),
            },
        )
        .await
        .unwrap();
    assert_err(
        del().await.unwrap_err(),
        "DeleteConflict",
        409,
        "Cannot delete entity, must detach all policies first.",
    );
    let e = f
        .iam
        .delete_policy(
            &root(),
            m::DeletePolicyRequest {
                policy_arn: arn.clone(),
            },
        )
        .await
        .unwrap_err();
    assert_err(
        e,
        "DeleteConflict",
        409,
        "Cannot delete a policy attached to entities.",
    );
    f.iam
        .detach_user_policy(
            &root(),
            m::DetachUserPolicyRequest {
                user_name: "u".into(),
                policy_arn: arn.clone(),
            },
        )
        .await
        .unwrap();
    assert_err(
        del().await.unwrap_err(),
        "DeleteConflict",
        409,
        "Cannot delete entity, must delete access keys first.",
    );
    let keys = f
        .iam
        .list_access_keys(
            &root(),
            m::ListAccessKeysRequest {
                user_name: Some("u".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let akid = keys.access_key_metadata[0].access_key_id.clone().unwrap();
    f.iam
        .delete_access_key(
            &root(),
            m::DeleteAccessKeyRequest {
                user_name: Some("u".into()),
                access_key_id: akid,
            },
        )
        .await
        .unwrap();
    del().await.unwrap();
    f.iam
        .delete_policy(&root(), m::DeletePolicyRequest { policy_arn: arn })
        .await
        .unwrap();
}

#[tokio::test]
async fn roles_and_inline_policies() {
    let f = fixture();
    let e = f
        .iam
        .create_role(
            &root(),
            m::CreateRoleRequest {
                role_name: "r".into(),
                assume_role_policy_document: "some policy".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_err(
        e,
        "MalformedPolicyDocument",
        400,
        "Syntax errors in policy.",
    );

    let r = create_role(&f, "lambda-role").await;
    assert_eq!(r.arn, "arn:aws:iam::123456789012:role/lambda-role");
    assert!(r.role_id.starts_with("AROA"));
    assert_eq!(r.max_session_duration, Some(3600));
    // Documents come back URL-encoded, as IAM sends them.
    assert!(r
        .assume_role_policy_document
        .as_deref()
        .unwrap()
        .starts_with("%7B%22Version%22"));

    let e = f
        .iam
        .get_role(
            &root(),
            m::GetRoleRequest {
                role_name: "nope".into(),
            },
        )
        .await
        .unwrap_err();
    assert_err(
        e,
        "NoSuchEntity",
        404,
        "The role with name nope cannot be found.",
    );

    f.iam
        .put_role_policy(
            &root(),
            m::PutRolePolicyRequest {
                role_name: "lambda-role".into(),
                policy_name: "logs".into(),
                policy_document: POLICY.into(),
            },
        )
        .await
        .unwrap();
    let got = f
        .iam
        .get_role_policy(
            &root(),
            m::GetRolePolicyRequest {
                role_name: "lambda-role".into(),
                policy_name: "logs".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(got.policy_document, crate::policy::url_encode(POLICY));
    let listed = f
        .iam
        .list_role_policies(
            &root(),
            m::ListRolePoliciesRequest {
                role_name: "lambda-role".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.policy_names, ["logs"]);
    let e = f
        .iam
        .put_role_policy(
            &root(),
            m::PutRolePolicyRequest {
                role_name: "lambda-role".into(),
                policy_name: "bad".into(),
                policy_document: "{".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, "MalformedPolicyDocument");

    // AWS managed policies attach without a catalogue.
    let managed = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";
    f.iam
        .attach_role_policy(
            &root(),
            m::AttachRolePolicyRequest {
                role_name: "lambda-role".into(),
                policy_arn: managed.into(),
            },
        )
        .await
        .unwrap();
    let att = f
        .iam
        .list_attached_role_policies(
            &root(),
            m::ListAttachedRolePoliciesRequest {
                role_name: "lambda-role".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let att = att.attached_policies.unwrap();
    assert_eq!(att.len(), 1);
    assert_eq!(
        att[0].policy_name.as_deref(),
        Some("AWSLambdaBasicExecutionRole")
    );
    let missing = "arn:aws:iam::123456789012:policy/missing";
    let e = f
        .iam
        .attach_role_policy(
            &root(),
            m::AttachRolePolicyRequest {
                role_name: "lambda-role".into(),
                policy_arn: missing.into(),
            },
        )
        .await
        .unwrap_err();
    assert_err(
        e,
        "NoSuchEntity",
        404,
        "Policy arn:aws:iam::123456789012:policy/missing does not exist or is not attachable.",
    );

    let ctx = root();
    let del = || {
        f.iam.delete_role(
            &ctx,
            m::DeleteRoleRequest {
                role_name: "lambda-role".into(),
            },
        )
    };
    assert_err(
        del().await.unwrap_err(),
        "DeleteConflict",
        409,
        "Cannot delete entity, must detach all policies first.",
    );
    f.iam
        .detach_role_policy(
            &root(),
            m::DetachRolePolicyRequest {
                role_name: "lambda-role".into(),
                policy_arn: managed.into(),
            },
        )
        .await
        .unwrap();
    let e = f
        .iam
        .detach_role_policy(
            &root(),
            m::DetachRolePolicyRequest {
                role_name: "lambda-role".into(),
                policy_arn: managed.into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, "NoSuchEntity");
    assert_err(
        del().await.unwrap_err(),
        "DeleteConflict",
        409,
        "Cannot delete entity, must delete policies first.",
    );
    f.iam
        .delete_role_policy(
            &root(),
            m::DeleteRolePolicyRequest {
                role_name: "lambda-role".into(),
                policy_name: "logs".into(),
            },
        )
        .await
        .unwrap();
    let e = f
        .iam
        .delete_role_policy(
            &root(),
            m::DeleteRolePolicyRequest {
                role_name: "lambda-role".into(),
                policy_name: "logs".into(),
            },
        )
        .await
        .unwrap_err();
    assert_err(
        e,
        "NoSuchEntity",
        404,
        "The role policy with name logs cannot be found.",
    );
    del().await.unwrap();
}

#[tokio::test]
async fn managed_policy_versions() {
    let f = fixture();
    let p = f
        .iam
        .create_policy(
            &root(),
            m::CreatePolicyRequest {
                policy_name: "pol".into(),
                path: Some("/team/".into()),
                policy_document: POLICY.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .policy
        .unwrap();
    let arn = p.arn.clone().unwrap();
    assert_eq!(arn, "arn:aws:iam::123456789012:policy/team/pol");
    assert_eq!(p.default_version_id.as_deref(), Some("v1"));
    assert_eq!(p.attachment_count, Some(0));
    let e = f
        .iam
        .create_policy(
            &root(),
            m::CreatePolicyRequest {
                policy_name: "POL".into(),
                policy_document: POLICY.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_err(
        e,
        "EntityAlreadyExists",
        409,
        "A policy called POL already exists. Duplicate names are not allowed.",
    );

    let got = f
        .iam
        .get_policy(
            &root(),
            m::GetPolicyRequest {
                policy_arn: arn.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(got.policy.unwrap().policy_id, p.policy_id);
    let e = f
        .iam
        .get_policy(
            &root(),
            m::GetPolicyRequest {
                policy_arn: "arn:aws:iam::123456789012:policy/pol".into(),
            },
        )
        .await
        .unwrap_err();
    assert_err(
        e,
        "NoSuchEntity",
        404,
        "Policy arn:aws:iam::123456789012:policy/pol was not found.",
    );

    for i in 2..=5 {
        let v = f
            .iam
            .create_policy_version(
                &root(),
                m::CreatePolicyVersionRequest {
                    policy_arn: arn.clone(),
                    policy_document: POLICY.into(),
                    set_as_default: Some(i == 3),
                },
            )
            .await
            .unwrap();
        assert_eq!(v.policy_version.unwrap().version_id, Some(format!("v{i}")));
    }
    let e = f
        .iam
        .create_policy_version(
            &root(),
            m::CreatePolicyVersionRequest {
                policy_arn: arn.clone(),
                policy_document: POLICY.into(),
                set_as_default: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!((e.code.as_str(), e.status.as_u16()), ("LimitExceeded", 409));
    let e = f
        .iam
        .delete_policy_version(
            &root(),
            m::DeletePolicyVersionRequest {
                policy_arn: arn.clone(),
                version_id: "v3".into(),
            },
        )
        .await
        .unwrap_err();
    assert_err(
        e,
        "DeleteConflict",
        409,
        "Cannot delete the default version of a policy.",
    );
    f.iam
        .delete_policy_version(
            &root(),
            m::DeletePolicyVersionRequest {
                policy_arn: arn.clone(),
                version_id: "v1".into(),
            },
        )
        .await
        .unwrap();
    f.iam
        .set_default_policy_version(
            &root(),
            m::SetDefaultPolicyVersionRequest {
                policy_arn: arn.clone(),
                version_id: "v5".into(),
            },
        )
        .await
        .unwrap();
    let versions = f
        .iam
        .list_policy_versions(
            &root(),
            m::ListPolicyVersionsRequest {
                policy_arn: arn.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let ids: Vec<_> = versions
        .versions
        .unwrap()
        .iter()
        .map(|v| (v.version_id.clone().unwrap(), v.is_default_version.unwrap()))
        .collect();
    assert_eq!(
        ids,
        [
            ("v5".to_string(), true),
            ("v4".into(), false),
            ("v3".into(), false),
            ("v2".into(), false)
        ]
    );
    let v = f
        .iam
        .get_policy_version(
            &root(),
            m::GetPolicyVersionRequest {
                policy_arn: arn.clone(),
                version_id: "v2".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        v.policy_version.unwrap().document.unwrap(),
        crate::policy::url_encode(POLICY)
    );

    let listed = f
        .iam
        .list_policies(
            &root(),
            m::ListPoliciesRequest {
                only_attached: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(listed.policies.unwrap().is_empty());
    let listed = f
        .iam
        .list_policies(
            &root(),
            m::ListPoliciesRequest {
                path_prefix: Some("/team/".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.policies.unwrap().len(), 1);
}

#[tokio::test]
async fn access_keys_feed_the_credential_store() {
    let f = fixture();
    let user = create_user(&f, "svc").await;
    let creds = IamCredentialStore::new(StaticCredentials::default());
    assert!(creds.lookup("test").is_some());

    let k1 = f
        .iam
        .create_access_key(
            &root(),
            m::CreateAccessKeyRequest {
                user_name: Some("svc".into()),
            },
        )
        .await
        .unwrap()
        .access_key;
    assert!(k1.access_key_id.starts_with("AKIA"));
    assert_eq!(k1.secret_access_key.len(), 40);
    assert_eq!(k1.user_name, "svc");
    // Not attached yet: the store is invisible.
    assert!(creds.lookup(&k1.access_key_id).is_none());
    creds.attach(f.db.clone());
    let c = creds.lookup(&k1.access_key_id).unwrap();
    assert_eq!(c.secret_access_key, k1.secret_access_key);
    assert_eq!(c.account_id, ACCOUNT);
    assert!(c.active);
    assert_eq!(c.principal.arn(), "arn:aws:iam::123456789012:user/svc");
    assert_eq!(c.principal.user_id(), user.user_id);

    f.iam
        .create_access_key(
            &root(),
            m::CreateAccessKeyRequest {
                user_name: Some("svc".into()),
            },
        )
        .await
        .unwrap();
    let e = f
        .iam
        .create_access_key(
            &root(),
            m::CreateAccessKeyRequest {
                user_name: Some("svc".into()),
            },
        )
        .await
        .unwrap_err();
    assert_err(
        e,
        "LimitExceeded",
        409,
        "Cannot exceed quota for AccessKeysPerUser: 2",
    );

    f.iam
        .update_access_key(
            &root(),
            m::UpdateAccessKeyRequest {
                user_name: Some("svc".into()),
                access_key_id: k1.access_key_id.clone(),
                status: m::StatusType::Inactive,
            },
        )
        .await
        .unwrap();
    assert!(!creds.lookup(&k1.access_key_id).unwrap().active);
    let listed = f
        .iam
        .list_access_keys(
            &root(),
            m::ListAccessKeysRequest {
                user_name: Some("svc".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.access_key_metadata.len(), 2);

    // The user's own key lists its own keys without naming the user.
    let as_user = RequestContext {
        principal: c.principal.clone(),
        ..root()
    };
    let own = f
        .iam
        .list_access_keys(&as_user, m::ListAccessKeysRequest::default())
        .await
        .unwrap();
    assert_eq!(own.access_key_metadata.len(), 2);
    let me = f
        .iam
        .get_user(&as_user, m::GetUserRequest { user_name: None })
        .await
        .unwrap();
    assert_eq!(me.user.user_name, "svc");

    let e = f
        .iam
        .delete_access_key(
            &root(),
            m::DeleteAccessKeyRequest {
                user_name: Some("svc".into()),
                access_key_id: "AKIANOPE".into(),
            },
        )
        .await
        .unwrap_err();
    assert_err(
        e,
        "NoSuchEntity",
        404,
        "The Access Key with id AKIANOPE cannot be found.",
    );
    f.iam
        .delete_access_key(
            &root(),
            m::DeleteAccessKeyRequest {
                user_name: Some("svc".into()),
                access_key_id: k1.access_key_id.clone(),
            },
        )
        .await
        .unwrap();
    assert!(creds.lookup(&k1.access_key_id).is_none());
}

#[tokio::test]
async fn rename_user_moves_everything() {
    let f = fixture();
    create_user(&f, "old").await;
    f.iam
        .put_user_policy(
            &root(),
            m::PutUserPolicyRequest {
                user_name: "old".into(),
                policy_name: "p".into(),
                policy_document: POLICY.into(),
            },
        )
        .await
        .unwrap();
    let k = f
        .iam
        .create_access_key(
            &root(),
            m::CreateAccessKeyRequest {
                user_name: Some("old".into()),
            },
        )
        .await
        .unwrap()
        .access_key;
    f.iam
        .update_user(
            &root(),
            m::UpdateUserRequest {
                user_name: "old".into(),
                new_user_name: Some("new".into()),
                new_path: Some("/x/".into()),
            },
        )
        .await
        .unwrap();
    assert!(f
        .iam
        .get_user(
            &root(),
            m::GetUserRequest {
                user_name: Some("old".into())
            }
        )
        .await
        .is_err());
    let u = f
        .iam
        .get_user(
            &root(),
            m::GetUserRequest {
                user_name: Some("new".into()),
            },
        )
        .await
        .unwrap()
        .user;
    assert_eq!(u.arn, "arn:aws:iam::123456789012:user/x/new");
    f.iam
        .get_user_policy(
            &root(),
            m::GetUserPolicyRequest {
                user_name: "new".into(),
                policy_name: "p".into(),
            },
        )
        .await
        .unwrap();
    let keys = f
        .iam
        .list_access_keys(
            &root(),
            m::ListAccessKeysRequest {
                user_name: Some("new".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        keys.access_key_metadata[0].access_key_id.as_deref(),
        Some(k.access_key_id.as_str())
    );
    assert_eq!(
        keys.access_key_metadata[0].user_name.as_deref(),
        Some("new")
    );
}

#[tokio::test]
async fn tags() {
    let f = fixture();
    create_role(&f, "r").await;
    let tag = |k: &str, v: &str| m::Tag {
        key: k.into(),
        value: v.into(),
    };
    f.iam
        .tag_role(
            &root(),
            m::TagRoleRequest {
                role_name: "r".into(),
                tags: vec![tag("a", "1"), tag("b", "2")],
            },
        )
        .await
        .unwrap();
    f.iam
        .tag_role(
            &root(),
            m::TagRoleRequest {
                role_name: "r".into(),
                tags: vec![tag("A", "3")],
            },
        )
        .await
        .unwrap();
    f.iam
        .untag_role(
            &root(),
            m::UntagRoleRequest {
                role_name: "r".into(),
                tag_keys: vec!["b".into()],
            },
        )
        .await
        .unwrap();
    let t = f
        .iam
        .list_role_tags(
            &root(),
            m::ListRoleTagsRequest {
                role_name: "r".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(t.tags, vec![tag("A", "3")]);
    let e = f
        .iam
        .tag_role(
            &root(),
            m::TagRoleRequest {
                role_name: "r".into(),
                tags: vec![tag("x", "1"), tag("X", "2")],
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, "InvalidInput");
}

#[tokio::test]
async fn sts_identity_session_and_assume_role() {
    let f = fixture();
    let id = f
        .sts
        .get_caller_identity(&root(), s::GetCallerIdentityRequest::default())
        .await
        .unwrap();
    assert_eq!(id.account.as_deref(), Some(ACCOUNT));
    assert_eq!(id.arn.as_deref(), Some("arn:aws:iam::123456789012:root"));
    assert_eq!(id.user_id.as_deref(), Some(ACCOUNT));

    let creds = IamCredentialStore::new(StaticCredentials::default());
    creds.attach(f.db.clone());

    // Root sessions are capped at an hour.
    let st = f
        .sts
        .get_session_token(
            &root(),
            s::GetSessionTokenRequest {
                duration_seconds: Some(7200),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let c = st.credentials.unwrap();
    assert!(c.access_key_id.starts_with("ASIA"));
    assert_eq!(c.expiration, (T0_MS / 1000 + 3600) as f64);
    let stored = creds.lookup(&c.access_key_id).unwrap();
    assert_eq!(
        stored.session_token.as_deref(),
        Some(c.session_token.as_str())
    );
    assert_eq!(stored.expires_at_millis, Some(T0_MS + 3_600_000));
    assert_eq!(stored.principal.kind, PrincipalKind::Root);
    // ... and cannot be used to get another session.
    let session_ctx = RequestContext {
        principal: stored.principal.clone(),
        ..root()
    };
    let e = f
        .sts
        .get_session_token(&session_ctx, s::GetSessionTokenRequest::default())
        .await
        .unwrap_err();
    assert_err(
        e,
        "AccessDenied",
        403,
        "Cannot call GetSessionToken with session credentials",
    );

    let role_arn = "arn:aws:iam::123456789012:role/app";
    let e = f
        .sts
        .assume_role(
            &root(),
            s::AssumeRoleRequest {
                role_arn: role_arn.into(),
                role_session_name: "s1".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_err(e, "AccessDenied", 403, "User: arn:aws:iam::123456789012:root is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/app");

    let role = create_role(&f, "app").await;
    let e = f
        .sts
        .assume_role(
            &root(),
            s::AssumeRoleRequest {
                role_arn: role_arn.into(),
                role_session_name: "s1".into(),
                duration_seconds: Some(7200),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_err(
        e,
        "ValidationError",
        400,
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    );

    f.clock.advance_millis(1_000);
    let out = f
        .sts
        .assume_role(
            &root(),
            s::AssumeRoleRequest {
                role_arn: role_arn.into(),
                role_session_name: "s1".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let user = out.assumed_role_user.unwrap();
    assert_eq!(user.arn, "arn:aws:sts::123456789012:assumed-role/app/s1");
    assert_eq!(user.assumed_role_id, format!("{}:s1", role.role_id));
    let c = out.credentials.unwrap();
    let stored = creds.lookup(&c.access_key_id).unwrap();
    assert_eq!(
        stored.principal.arn(),
        "arn:aws:sts::123456789012:assumed-role/app/s1"
    );
    assert_eq!(stored.expires_at_millis, Some(T0_MS + 1_000 + 3_600_000));
    let as_role = RequestContext {
        principal: stored.principal.clone(),
        ..root()
    };
    let id = f
        .sts
        .get_caller_identity(&as_role, s::GetCallerIdentityRequest::default())
        .await
        .unwrap();
    assert_eq!(id.user_id, Some(format!("{}:s1", role.role_id)));
    // A role session must name the user it manages keys for.
    let e = f
        .iam
        .list_access_keys(&as_role, m::ListAccessKeysRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code, "ValidationError");
}

fn query_request(body: &str) -> AwsRequest {
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        "application/x-www-form-urlencoded; charset=utf-8"
            .parse()
            .unwrap(),
    );
    AwsRequest {
        method: Method::POST,
        path: "/".into(),
        query: String::new(),
        headers,
        body: Bytes::from(body.to_string()),
    }
}

#[tokio::test]
async fn wire_shapes_through_dispatch() {
    let f = fixture();
    let resp = nimbus_model::iam::dispatch(
        &f.iam,
        &root(),
        &query_request("Action=CreateUser&Version=2010-05-08&UserName=wire"),
    )
    .await;
    assert_eq!(resp.status, StatusCode::OK);
    let body = String::from_utf8(resp.body.to_vec()).unwrap();
    assert!(body.starts_with("<CreateUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><CreateUserResult><User>"), "{body}");
    assert!(body.contains("<UserName>wire</UserName>"));
    assert!(body.contains("<Arn>arn:aws:iam::123456789012:user/wire</Arn>"));
    assert!(
        body.contains("<CreateDate>2026-11-18T11:06:40Z</CreateDate>"),
        "{body}"
    );

    let resp = nimbus_model::iam::dispatch(
        &f.iam,
        &root(),
        &query_request("Action=GetUser&Version=2010-05-08&UserName=nobody"),
    )
    .await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    let body = String::from_utf8(resp.body.to_vec()).unwrap();
    assert!(body.contains("<Code>NoSuchEntity</Code><Message>The user with name nobody cannot be found.</Message>"), "{body}");

    let resp = nimbus_model::sts::dispatch(
        &f.sts,
        &root(),
        &query_request("Action=GetCallerIdentity&Version=2011-06-15"),
    )
    .await;
    let body = String::from_utf8(resp.body.to_vec()).unwrap();
    assert!(
        body.contains("<GetCallerIdentityResult><UserId>123456789012</UserId><Account>123456789012</Account><Arn>arn:aws:iam::123456789012:root</Arn></GetCallerIdentityResult>"),
        "{body}"
    );
}
