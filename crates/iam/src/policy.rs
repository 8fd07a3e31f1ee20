//! Policy documents: the syntax check IAM does before storing one, size limits, and
//! the URL encoding IAM applies to documents in responses (botocore decodes it).

use nimbus_model::iam::errors;
use nimbus_wire::AwsError;

/// Inline policies of a user: 2,048 characters (whitespace not counted).
pub const MAX_USER_INLINE_POLICY_CHARS: usize = 2_048;
/// Inline policies of a role: 10,240 characters.
pub const MAX_ROLE_INLINE_POLICY_CHARS: usize = 10_240;
/// A managed policy version: 6,144 characters.
pub const MAX_MANAGED_POLICY_CHARS: usize = 6_144;
/// A role's trust policy: 2,048 characters by default.
pub const MAX_TRUST_POLICY_CHARS: usize = 2_048;

const SYNTAX_ERROR: &str = "Syntax errors in policy.";

/// Checks that `doc` is a policy document: a JSON object with a `Statement` that is an
/// object or a non-empty list of objects, each with an `Effect` of `Allow` or `Deny`,
/// and a `Version` (when given) of `2012-10-17` or `2008-10-17`.
pub fn validate(doc: &str) -> Result<(), AwsError> {
    let malformed = || errors::malformed_policy_document_exception(SYNTAX_ERROR);
    let value: serde_json::Value = serde_json::from_str(doc).map_err(|_| malformed())?;
    let obj = value.as_object().ok_or_else(malformed)?;
    if let Some(v) = obj.get("Version") {
        match v.as_str() {
            Some("2012-10-17") | Some("2008-10-17") => {}
            _ => {
                return Err(errors::malformed_policy_document_exception(
                    "Policy document must be version 2012-10-17 or greater.",
                ))
            }
        }
    }
    let statements: Vec<&serde_json::Value> = match obj.get("Statement") {
        Some(serde_json::Value::Array(list)) if !list.is_empty() => list.iter().collect(),
        Some(s @ serde_json::Value::Object(_)) => vec![s],
        _ => return Err(malformed()),
    };
    for st in statements {
        let st = st.as_object().ok_or_else(malformed)?;
        match st.get("Effect").and_then(|e| e.as_str()) {
            Some("Allow") | Some("Deny") => {}
            _ => return Err(malformed()),
        }
    }
    Ok(())
}

/// Characters counted against policy size limits: AWS does not count whitespace.
pub fn counted_chars(doc: &str) -> usize {
    doc.chars().filter(|c| !c.is_whitespace()).count()
}

/// URL-encodes a document the way IAM returns it (RFC 3986 unreserved kept).
pub fn url_encode(doc: &str) -> String {
    let mut out = String::with_capacity(doc.len() * 2);
    nimbus_wire::sigv4::uri_encode(doc.as_bytes(), false, &mut out);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_policies() {
        validate(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#).unwrap();
        validate(r#"{"Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}"#).unwrap();
        validate(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#).unwrap();
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "some policy",
            "[]",
            "{}",
            r#"{"Statement":[]}"#,
            r#"{"Statement":[{"Effect":"Maybe"}]}"#,
            r#"{"Statement":"x"}"#,
        ] {
            let e = validate(bad).unwrap_err();
            assert_eq!(e.code, "MalformedPolicyDocument", "{bad}");
            assert_eq!(e.message, "Syntax errors in policy.");
            assert_eq!(e.status.as_u16(), 400);
        }
        let e =
            validate(r#"{"Version":"2011-01-01","Statement":[{"Effect":"Allow"}]}"#).unwrap_err();
        assert_eq!(e.code, "MalformedPolicyDocument");
    }

    #[test]
    fn encoding_and_counting() {
        assert_eq!(
            url_encode(r#"{"a": "b/c"}"#),
            "%7B%22a%22%3A%20%22b%2Fc%22%7D"
        );
        assert_eq!(counted_chars("{ \"a\" :\n 1 }"), 7);
    }
}
