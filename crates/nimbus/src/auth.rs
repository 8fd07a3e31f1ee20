//! Who is calling: SigV4 verification against the credential store, with the loopback
//! rule (DESIGN.md §7): on a loopback bind an unknown access key is the account root,
//! unchecked, so dummy keys of existing local setups keep working; a known key is always
//! verified in full.

use nimbus_core::{Principal, RequestContext, DEFAULT_REGION, ROOT_ACCOUNT_ID};
use nimbus_iam::CredentialStore;
use nimbus_wire::sigv4::{self, AmzDate, SigV4Error, SigningKeyCache};
use nimbus_wire::AwsRequest;

use crate::router::ServiceId;

/// What authentication needs from the gateway.
pub struct Authenticator<'a> {
    pub credentials: &'a dyn CredentialStore,
    pub key_cache: &'a SigningKeyCache,
    /// True when bound to a loopback address.
    pub loopback: bool,
    pub now_millis: i64,
}

fn tokens_equal(a: &str, b: &str) -> bool {
    // Session tokens are bearer secrets: compare without an early exit.
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Authenticator<'_> {
    /// Authenticates `req` for `service` and builds the request context.
    pub fn authenticate(
        &self,
        req: &AwsRequest,
        service: ServiceId,
        request_id: &str,
    ) -> Result<RequestContext, SigV4Error> {
        let Some(auth) = sigv4::parse(req)? else {
            return Err(SigV4Error::MissingAuthenticationToken);
        };
        let now = AmzDate::from_epoch_millis(self.now_millis);
        let expected = service.info().signing_names;

        let Some(cred) = self.credentials.lookup(&auth.access_key_id) else {
            if self.loopback {
                // Unchecked, but still only a region-shaped name reaches the services.
                let region = auth
                    .region()
                    .filter(|r| sigv4::is_valid_region(r))
                    .unwrap_or(DEFAULT_REGION)
                    .to_string();
                return Ok(RequestContext {
                    account_id: ROOT_ACCOUNT_ID.to_string(),
                    region,
                    principal: Principal::root(ROOT_ACCOUNT_ID, &auth.access_key_id),
                    request_id: request_id.to_string(),
                });
            }
            // AWS checks the request's shape before it looks the key up.
            sigv4::validate(&auth, now, expected)?;
            return Err(SigV4Error::UnknownAccessKey {
                access_key_id: auth.access_key_id.to_string(),
            });
        };

        let validated = sigv4::validate(&auth, now, expected)?;
        if !cred.active {
            return Err(SigV4Error::UnknownAccessKey {
                access_key_id: auth.access_key_id.to_string(),
            });
        }
        if let Some(expected_token) = &cred.session_token {
            // Temporary credentials only work with their own session token.
            match &auth.security_token {
                Some(t) if tokens_equal(t, expected_token) => {}
                _ => return Err(SigV4Error::InvalidSecurityToken),
            }
            if cred
                .expires_at_millis
                .is_some_and(|exp| self.now_millis >= exp)
            {
                return Err(SigV4Error::ExpiredToken);
            }
        }
        // A session token sent with a long-term key is ignored: LocalStack-style setups
        // often export a dummy AWS_SESSION_TOKEN next to `test`/`test`.
        sigv4::verify_signature(
            req,
            &auth,
            &validated,
            &cred.secret_access_key,
            self.key_cache,
        )?;
        Ok(RequestContext {
            account_id: cred.account_id.clone(),
            region: validated.scope.region.into_owned(),
            principal: cred.principal.clone(),
            request_id: request_id.to_string(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::{HeaderMap, Method};
    use nimbus_iam::{Credential, StaticCredentials};
    use nimbus_wire::sigv4::{sign_aws_request, SigningCredentials, SigningParams};

    const NOW: &str = "20261126T120000Z";

    fn now_millis() -> i64 {
        AmzDate::parse_basic(NOW).unwrap().epoch_secs() * 1000
    }

    fn signed(
        akid: &str,
        secret: &str,
        token: Option<&str>,
        service: &str,
        region: &str,
        time: &str,
    ) -> AwsRequest {
        let mut headers = HeaderMap::new();
        headers.insert("host", "localhost:4566".parse().unwrap());
        headers.insert(
            "x-amz-target",
            "DynamoDB_20120810.ListTables".parse().unwrap(),
        );
        headers.insert(
            "content-type",
            "application/x-amz-json-1.0".parse().unwrap(),
        );
        let mut req = AwsRequest {
            method: Method::POST,
            path: "/".into(),
            query: String::new(),
            headers,
            body: Bytes::from_static(b"{}"),
        };
        let params = SigningParams {
            credentials: SigningCredentials {
                access_key_id: akid,
                secret_access_key: secret,
                session_token: token,
            },
            region,
            service,
            time: AmzDate::parse_basic(time).unwrap(),
            unsigned_payload: false,
        };
        sign_aws_request(&mut req, &params, None).unwrap();
        req
    }

    fn creds() -> StaticCredentials {
        let mut temp = Credential::root("ASIATEMP", "tempsecret", "222222222222");
        temp.session_token = Some("session-token".into());
        temp.expires_at_millis = Some(now_millis() + 60_000);
        let mut expired = temp.clone();
        expired.access_key_id = "ASIAOLD".into();
        expired.expires_at_millis = Some(now_millis() - 1);
        let mut inactive = Credential::root("AKIAOFF", "off", "333333333333");
        inactive.active = false;
        StaticCredentials::new(vec![
            Credential::root("AKIAKNOWN", "known-secret", "111111111111"),
            temp,
            expired,
            inactive,
        ])
    }

    fn run(loopback: bool, req: &AwsRequest) -> Result<RequestContext, SigV4Error> {
        let store = creds();
        let cache = SigningKeyCache::default();
        Authenticator {
            credentials: &store,
            key_cache: &cache,
            loopback,
            now_millis: now_millis(),
        }
        .authenticate(req, ServiceId::DynamoDb, "rid")
    }

    #[test]
    fn known_key_verified_in_full() {
        let ctx = run(
            false,
            &signed(
                "AKIAKNOWN",
                "known-secret",
                None,
                "dynamodb",
                "eu-west-1",
                NOW,
            ),
        )
        .unwrap();
        assert_eq!(ctx.account_id, "111111111111");
        assert_eq!(ctx.region, "eu-west-1");
        assert_eq!(ctx.request_id, "rid");
        // Wrong secret: refused, also on loopback.
        for loopback in [true, false] {
            let err = run(
                loopback,
                &signed("AKIAKNOWN", "wrong", None, "dynamodb", "eu-west-1", NOW),
            )
            .unwrap_err();
            assert!(
                matches!(err, SigV4Error::SignatureMismatch { .. }),
                "{err:?}"
            );
        }
        // Skewed clock.
        let err = run(
            true,
            &signed(
                "AKIAKNOWN",
                "known-secret",
                None,
                "dynamodb",
                "eu-west-1",
                "20261126T114459Z",
            ),
        )
        .unwrap_err();
        assert!(matches!(err, SigV4Error::Expired { .. }));
        // Wrong service in the scope.
        let err = run(
            true,
            &signed("AKIAKNOWN", "known-secret", None, "sts", "eu-west-1", NOW),
        )
        .unwrap_err();
        assert_eq!(
            err,
            SigV4Error::BadScope(
                "Credential should be scoped to correct service: 'dynamodb'.".into()
            )
        );
    }

    #[test]
    fn root_test_key_is_verified() {
        let ctx = run(
            false,
            &signed("test", "test", None, "dynamodb", "us-east-1", NOW),
        )
        .unwrap();
        assert_eq!(ctx.account_id, "000000000000");
        assert!(run(
            true,
            &signed("test", "nottest", None, "dynamodb", "us-east-1", NOW)
        )
        .is_err());
    }

    #[test]
    fn unknown_key_root_on_loopback_refused_elsewhere() {
        // Bad signature and a skewed clock do not matter for an unknown key on loopback.
        let req = signed(
            "AKIADUMMY",
            "whatever",
            None,
            "dynamodb",
            "ap-south-1",
            "20200101T000000Z",
        );
        let ctx = run(true, &req).unwrap();
        assert_eq!(ctx.account_id, "000000000000");
        assert_eq!(ctx.region, "ap-south-1");
        assert_eq!(ctx.principal.access_key_id, "AKIADUMMY");
        assert_eq!(ctx.principal.arn(), "arn:aws:iam::000000000000:root");

        let req = signed("AKIADUMMY", "whatever", None, "dynamodb", "ap-south-1", NOW);
        let err = run(false, &req).unwrap_err();
        assert_eq!(
            err,
            SigV4Error::UnknownAccessKey {
                access_key_id: "AKIADUMMY".into()
            }
        );
        // Shape errors come before the unknown key, as in AWS.
        let req = signed(
            "AKIADUMMY",
            "whatever",
            None,
            "dynamodb",
            "ap-south-1",
            "20200101T000000Z",
        );
        assert!(matches!(
            run(false, &req).unwrap_err(),
            SigV4Error::Expired { .. }
        ));
    }

    #[test]
    fn unsigned_is_missing_token() {
        let mut req = signed("test", "test", None, "dynamodb", "us-east-1", NOW);
        req.headers.remove("authorization");
        assert_eq!(
            run(true, &req).unwrap_err(),
            SigV4Error::MissingAuthenticationToken
        );
    }

    #[test]
    fn temporary_credentials_need_their_token() {
        assert!(run(
            false,
            &signed(
                "ASIATEMP",
                "tempsecret",
                Some("session-token"),
                "dynamodb",
                "us-east-1",
                NOW
            )
        )
        .is_ok());
        assert_eq!(
            run(
                true,
                &signed("ASIATEMP", "tempsecret", None, "dynamodb", "us-east-1", NOW)
            )
            .unwrap_err(),
            SigV4Error::InvalidSecurityToken
        );
        assert_eq!(
            run(
                true,
                &signed(
                    "ASIATEMP",
                    "tempsecret",
                    Some("other-token!"),
                    "dynamodb",
                    "us-east-1",
                    NOW
                )
            )
            .unwrap_err(),
            SigV4Error::InvalidSecurityToken
        );
        assert_eq!(
            run(
                true,
                &signed(
                    "ASIAOLD",
                    "tempsecret",
                    Some("session-token"),
                    "dynamodb",
                    "us-east-1",
                    NOW
                )
            )
            .unwrap_err(),
            SigV4Error::ExpiredToken
        );
    }

    #[test]
    fn inactive_key_refused_even_on_loopback() {
        let err = run(
            true,
            &signed("AKIAOFF", "off", None, "dynamodb", "us-east-1", NOW),
        )
        .unwrap_err();
        assert!(matches!(err, SigV4Error::UnknownAccessKey { .. }));
    }
}
