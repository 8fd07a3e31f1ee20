//! TagResource, UntagResource, ListTagsOfResource. Tags live in the table's metadata
//! (changed in one transaction, like every other table change).

use nimbus_core::RequestContext;
use nimbus_model::dynamodb as m;

use crate::error::DynamoDbError;
use crate::ops::catalog::{self, TableMeta};
use crate::ops::DynamoDb;

/// Most tags one resource may carry.
pub const MAX_TAGS: usize = 50;
/// Longest tag key and value, in characters.
pub const MAX_TAG_KEY_CHARS: usize = 128;
pub const MAX_TAG_VALUE_CHARS: usize = 256;

fn invalid(msg: impl std::fmt::Display) -> DynamoDbError {
    DynamoDbError::Validation(format!("One or more parameter values were invalid: {msg}"))
}

/// Letters, numbers, white space and `_ . : / = + - @`, as AWS allows in tags.
fn tag_chars_ok(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
}

/// Checks tags given to CreateTable or TagResource; `existing` is how many tags the
/// resource already has that these do not replace. Returns them as (key, value) pairs.
pub fn validate_new_tags(
    tags: &[m::Tag],
    existing: usize,
) -> Result<Vec<(String, String)>, DynamoDbError> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(tags.len());
    for t in tags {
        if t.key.is_empty() || t.key.chars().count() > MAX_TAG_KEY_CHARS || !tag_chars_ok(&t.key) {
            return Err(DynamoDbError::Validation(format!(
                "The Tag Key provided is invalid, Key: {}",
                t.key
            )));
        }
        if t.key.starts_with("aws:") {
            return Err(DynamoDbError::Validation(format!(
                "Tag Key cannot be prefixed with aws:, Key: {}",
                t.key
            )));
        }
        if t.value.chars().count() > MAX_TAG_VALUE_CHARS || !tag_chars_ok(&t.value) {
            return Err(DynamoDbError::Validation(format!(
                "The Tag Value provided is invalid, Value: {}",
                t.value
            )));
        }
        if out.iter().any(|(k, _)| *k == t.key) {
            return Err(DynamoDbError::Validation(format!(
                "Duplicate Tag Keys provided as input: Duplicate Tag Key found {}",
                t.key
            )));
        }
        out.push((t.key.clone(), t.value.clone()));
    }
    if existing + out.len() > MAX_TAGS {
        return Err(DynamoDbError::validation(
            "Number of Tags exceed the current limit for the provided ResourceArn",
        ));
    }
    Ok(out)
}

/// The table name a tagging ARN names, with AWS's errors for anything else.
fn table_from_arn(arn: &str, ctx: &RequestContext) -> Result<String, DynamoDbError> {
    let Some(rest) = arn.strip_prefix("arn:") else {
        return Err(invalid(format!("ARNs must start with 'arn:': {arn}")));
    };
    // partition:service:region:account:resource
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    let [_, service, region, account, resource] = parts.as_slice() else {
        return Err(invalid(format!(
            "Provided Arn is not a DynamoDB resource arn: {arn}"
        )));
    };
    if *service != "dynamodb" {
        return Err(invalid(format!(
            "Provided Arn is not a DynamoDB resource arn: {arn}"
        )));
    }
    if *region != ctx.region || *account != ctx.account_id {
        return Err(DynamoDbError::Validation(format!(
            "Invalid TableArn: Invalid ResourceArn provided as input {arn}"
        )));
    }
    match resource.strip_prefix("table/") {
        Some(name) if !name.is_empty() && !name.contains('/') => Ok(name.to_string()),
        _ => Err(invalid(format!(
            "Invalid resource arn provided, only table or stream is accepted. Provided resource arn: {arn}"
        ))),
    }
}

fn arn_not_found(arn: &str) -> DynamoDbError {
    // Sic: AWS spells it "ResourcArn".
    DynamoDbError::ResourceNotFound(format!(
        "Requested resource not found: ResourcArn: {arn} not found"
    ))
}

/// Runs `change` on the table's metadata in one transaction and invalidates the cache.
async fn change_tags<F>(
    svc: &DynamoDb,
    ctx: &RequestContext,
    arn: &str,
    change: F,
) -> Result<(), DynamoDbError>
where
    F: Fn(&mut TableMeta) -> Result<(), DynamoDbError> + Send + 'static,
{
    let name = table_from_arn(arn, ctx)?;
    let (account, region, arn_owned) =
        (ctx.account_id.clone(), ctx.region.clone(), arn.to_string());
    let name_in = name.clone();
    svc.db()
        .write(move |txn| -> Result<(), DynamoDbError> {
            let mut meta = catalog::load_table(txn, &account, &region, &name_in)?
                .ok_or_else(|| arn_not_found(&arn_owned))?;
            change(&mut meta)?;
            meta.version += 1;
            catalog::save_table(txn, &meta)
        })
        .await?;
    svc.invalidate_table(&ctx.account_id, &ctx.region, &name);
    Ok(())
}

pub async fn tag_resource(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: m::TagResourceInput,
) -> Result<(), DynamoDbError> {
    let arn = input.resource_arn.clone();
    table_from_arn(&arn, ctx)?;
    if input.tags.is_empty() {
        return Err(DynamoDbError::validation(
            "Atleast one Tag needs to be provided as Input.",
        ));
    }
    let tags = input.tags;
    change_tags(svc, ctx, &arn, move |meta| {
        let replaced = meta
            .tags
            .iter()
            .filter(|(k, _)| !tags.iter().any(|t| t.key == *k))
            .count();
        let new = validate_new_tags(&tags, replaced)?;
        for (k, v) in new {
            match meta.tags.iter_mut().find(|(ek, _)| *ek == k) {
                Some(slot) => slot.1 = v,
                None => meta.tags.push((k, v)),
            }
        }
        Ok(())
    })
    .await
}

pub async fn untag_resource(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: m::UntagResourceInput,
) -> Result<(), DynamoDbError> {
    let arn = input.resource_arn.clone();
    table_from_arn(&arn, ctx)?;
    if input.tag_keys.is_empty() {
        return Err(DynamoDbError::validation(
            "Atleast one Tag Key needs to be provided as Input.",
        ));
    }
    let keys = input.tag_keys;
    change_tags(svc, ctx, &arn, move |meta| {
        meta.tags.retain(|(k, _)| !keys.contains(k));
        Ok(())
    })
    .await
}

pub async fn list_tags_of_resource(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: m::ListTagsOfResourceInput,
) -> Result<m::ListTagsOfResourceOutput, DynamoDbError> {
    let name = table_from_arn(&input.resource_arn, ctx)?;
    let meta = svc
        .find_table(ctx, &name)?
        .ok_or_else(|| arn_not_found(&input.resource_arn))?;
    // At most 50 tags: one page, never a NextToken.
    Ok(m::ListTagsOfResourceOutput {
        tags: Some(
            meta.tags
                .iter()
                .map(|(k, v)| m::Tag {
                    key: k.clone(),
                    value: v.clone(),
                })
                .collect(),
        ),
        next_token: None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ops::tables::create_table;
    use crate::ops::tables::tests::{ctx, simple, svc};

    const ARN: &str = "arn:aws:dynamodb:us-east-1:000000000000:table/t";

    fn tag(k: &str, v: &str) -> m::Tag {
        m::Tag {
            key: k.into(),
            value: v.into(),
        }
    }

    async fn list(s: &DynamoDb) -> Vec<(String, String)> {
        list_tags_of_resource(
            s,
            &ctx(),
            m::ListTagsOfResourceInput {
                resource_arn: ARN.into(),
                next_token: None,
            },
        )
        .await
        .unwrap()
        .tags
        .unwrap()
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect()
    }

    async fn tag_err(s: &DynamoDb, arn: &str, tags: Vec<m::Tag>) -> DynamoDbError {
        tag_resource(
            s,
            &ctx(),
            m::TagResourceInput {
                resource_arn: arn.into(),
                tags,
            },
        )
        .await
        .unwrap_err()
    }

    #[tokio::test]
    async fn tag_untag_list() {
        let s = svc();
        let mut input = simple("t");
        input.tags = Some(vec![tag("a", "1")]);
        create_table(&s, &ctx(), input).await.unwrap();
        assert_eq!(list(&s).await, vec![("a".to_string(), "1".to_string())]);
        tag_resource(
            &s,
            &ctx(),
            m::TagResourceInput {
                resource_arn: ARN.into(),
                tags: vec![tag("b", "2"), tag("a", "x")],
            },
        )
        .await
        .unwrap();
        assert_eq!(
            list(&s).await,
            vec![
                ("a".to_string(), "x".to_string()),
                ("b".to_string(), "2".to_string())
            ]
        );
        untag_resource(
            &s,
            &ctx(),
            m::UntagResourceInput {
                resource_arn: ARN.into(),
                tag_keys: vec!["a".into(), "nope".into()],
            },
        )
        .await
        .unwrap();
        assert_eq!(list(&s).await, vec![("b".to_string(), "2".to_string())]);

        // 49 more fit (50 in all), one more does not.
        let many: Vec<m::Tag> = (0..49).map(|i| tag(&format!("k{i}"), "v")).collect();
        tag_resource(
            &s,
            &ctx(),
            m::TagResourceInput {
                resource_arn: ARN.into(),
                tags: many,
            },
        )
        .await
        .unwrap();
        let e = tag_err(&s, ARN, vec![tag("z", "1")]).await;
        assert_eq!(
            e.to_string(),
            "Number of Tags exceed the current limit for the provided ResourceArn"
        );
        // Overwriting an existing key at the limit is fine.
        tag_resource(
            &s,
            &ctx(),
            m::TagResourceInput {
                resource_arn: ARN.into(),
                tags: vec![tag("b", "3")],
            },
        )
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn tag_errors() {
        let s = svc();
        create_table(&s, &ctx(), simple("t")).await.unwrap();
        let e = tag_err(&s, "I_do_not_exist", vec![tag("a", "b")]).await;
        assert_eq!(
            e.to_string(),
            "One or more parameter values were invalid: ARNs must start with 'arn:': I_do_not_exist"
        );
        let e = tag_err(&s, &format!("{ARN}x"), vec![tag("a", "b")]).await;
        assert_eq!(e.code(), "ResourceNotFoundException");
        assert_eq!(
            e.to_string(),
            "Requested resource not found: ResourcArn: arn:aws:dynamodb:us-east-1:000000000000:table/tx not found"
        );
        let e = tag_err(&s, &format!("{ARN}/index/i"), vec![tag("a", "b")]).await;
        assert!(
            e.to_string().contains("only table or stream is accepted"),
            "{e}"
        );
        let e = tag_err(&s, ARN, vec![]).await;
        assert_eq!(
            e.to_string(),
            "Atleast one Tag needs to be provided as Input."
        );
        let e = tag_err(&s, ARN, vec![tag("ok", "#!%")]).await;
        assert_eq!(
            e.to_string(),
            "The Tag Value provided is invalid, Value: #!%"
        );
        let e = tag_err(&s, ARN, vec![tag("a", "1"), tag("a", "2")]).await;
        assert_eq!(
            e.to_string(),
            "Duplicate Tag Keys provided as input: Duplicate Tag Key found a"
        );
        let e = tag_err(&s, ARN, vec![tag("aws:x", "1")]).await;
        assert_eq!(e.code(), "ValidationException");
        let e = tag_err(
            &s,
            "arn:aws:dynamodb:us-west-2:000000000000:table/t",
            vec![tag("a", "1")],
        )
        .await;
        assert_eq!(e.code(), "ValidationException");
    }
}
