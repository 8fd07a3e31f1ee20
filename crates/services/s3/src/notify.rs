//! Event notifications: an object change that a bucket's notification configuration
//! asks to be told about is written to the event bus topic [`TOPIC`] *inside the
//! transaction that makes the change* (the outbox of DESIGN.md §3), so an event exists
//! if and only if its change committed (object creations and removals, tag and ACL
//! changes, lifecycle expirations). The binary's consumer delivers each record to
//! its destination: a Lambda function, invoked asynchronously with S3's event document
//! (`LambdaFunctionConfigurations`). Queue, topic and EventBridge destinations are stored
//! and not delivered until those services exist.

use nimbus_store::WriteTxn;
use s3s::dto::{LambdaFunctionConfiguration, NotificationConfiguration};
use serde::{Deserialize, Serialize};

use crate::bucket_config::{load, KIND_NOTIFICATION};
use crate::error::Error;
use crate::meta::{BucketMeta, ObjectVersion};

/// The bus topic every S3 notification goes through.
pub const TOPIC: &[u8] = b"s3/notifications";

/// One delivery: the destination and the event document it gets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// The Lambda function's ARN as configured.
    pub function_arn: String,
    /// The event document (`{"Records":[...]}`), as the function receives it.
    pub event: serde_json::Value,
}

/// What happened to an object, in S3's event names (`s3:` + this).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName {
    Put,
    Post,
    Copy,
    CompleteMultipartUpload,
    Delete,
    DeleteMarkerCreated,
    TaggingPut,
    TaggingDelete,
    AclPut,
    LifecycleDelete,
    LifecycleDeleteMarkerCreated,
}

impl EventName {
    pub fn as_str(self) -> &'static str {
        match self {
            EventName::Put => "ObjectCreated:Put",
            EventName::Post => "ObjectCreated:Post",
            EventName::Copy => "ObjectCreated:Copy",
            EventName::CompleteMultipartUpload => "ObjectCreated:CompleteMultipartUpload",
            EventName::Delete => "ObjectRemoved:Delete",
            EventName::DeleteMarkerCreated => "ObjectRemoved:DeleteMarkerCreated",
            EventName::TaggingPut => "ObjectTagging:Put",
            EventName::TaggingDelete => "ObjectTagging:Delete",
            EventName::AclPut => "ObjectAcl:Put",
            EventName::LifecycleDelete => "LifecycleExpiration:Delete",
            EventName::LifecycleDeleteMarkerCreated => "LifecycleExpiration:DeleteMarkerCreated",
        }
    }
}

/// Who made the change and under which request (for the event's identity fields). An
/// empty `account_id` is S3 itself (lifecycle expiration).
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub account_id: String,
    pub request_id: String,
    /// Whether notifications are delivered at all (see `NotificationHooks::delivers`).
    pub delivered: bool,
}

/// The object a change is about. Removals have no size or ETag.
#[derive(Debug, Clone)]
pub struct ObjectRef<'a> {
    pub key: &'a str,
    pub size: Option<u64>,
    /// Quoted, as stored; the event carries it unquoted.
    pub etag: Option<&'a str>,
    pub version_id: Option<&'a str>,
    /// Orders events of one key: the version's sequence number in the bucket. `None`
    /// (a removal) takes the bucket's next sequence number, only if an event is sent.
    pub seq: Option<u64>,
}

impl Origin {
    /// S3 itself (the lifecycle job).
    pub fn s3(delivered: bool) -> Self {
        Self {
            delivered,
            ..Self::default()
        }
    }
}

impl<'a> ObjectRef<'a> {
    /// A version that is being removed (no size or ETag; a new sequencer).
    pub fn removed(ver: &'a ObjectVersion) -> Self {
        Self {
            key: &ver.key,
            size: None,
            etag: None,
            version_id: Some(ver.version_id.as_str()),
            seq: None,
        }
    }

    /// An existing version whose subresources (tags, ACL) changed: no size, and a new
    /// sequencer.
    pub fn changed(ver: &'a ObjectVersion) -> Self {
        Self {
            key: &ver.key,
            size: None,
            etag: Some(ver.etag.as_str()),
            version_id: Some(ver.version_id.as_str()),
            seq: None,
        }
    }

    /// A version that was just written.
    pub fn written(ver: &'a ObjectVersion) -> Self {
        Self {
            key: &ver.key,
            size: (!ver.delete_marker).then_some(ver.size),
            etag: (!ver.delete_marker).then_some(ver.etag.as_str()),
            version_id: Some(ver.version_id.as_str()),
            seq: Some(ver.seq),
        }
    }
}

/// Writes the bucket's notifications for one change into `txn`. Returns how many were
/// written (the caller wakes the bus after the commit when any were).
pub fn record(
    txn: &mut dyn WriteTxn,
    bucket: &BucketMeta,
    event: EventName,
    object: &ObjectRef<'_>,
    origin: &Origin,
    now_ms: i64,
) -> Result<usize, Error> {
    if !origin.delivered {
        return Ok(0);
    }
    let Some(cfg) = load::<NotificationConfiguration>(txn, &bucket.name, KIND_NOTIFICATION)? else {
        return Ok(0);
    };
    let mut written = 0;
    let mut seq = object.seq;
    for c in cfg.lambda_function_configurations.iter().flatten() {
        if !matches_event(c, event) || !matches_filter(c, object.key) {
            continue;
        }
        let seq = match seq {
            Some(s) => s,
            None => *seq.insert(crate::write::next_seq(txn, &bucket.name)?),
        };
        let delivery = Delivery {
            function_arn: c.lambda_function_arn.clone(),
            event: document(bucket, event, object, seq, origin, c.id.as_deref(), now_ms),
        };
        let payload = serde_json::to_vec(&delivery)
            .map_err(|e| Error::Corrupt(format!("notification: {e}")))?;
        nimbus_events::append(txn, TOPIC, now_ms, &payload)?;
        written += 1;
    }
    Ok(written)
}

/// `s3:ObjectCreated:*` matches every creation, `s3:ObjectCreated:Put` only a PutObject.
fn matches_event(c: &LambdaFunctionConfiguration, event: EventName) -> bool {
    let name = event.as_str();
    c.events.iter().any(|e| {
        let Some(e) = AsRef::<str>::as_ref(e).strip_prefix("s3:") else {
            return false;
        };
        match e.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => e == name,
        }
    })
}

/// Prefix and suffix rules (names case-insensitive, values exact) must all hold.
fn matches_filter(c: &LambdaFunctionConfiguration, key: &str) -> bool {
    let rules = c
        .filter
        .as_ref()
        .and_then(|f| f.key.as_ref())
        .and_then(|k| k.filter_rules.as_ref());
    rules.into_iter().flatten().all(|r| {
        let value = r.value.as_deref().unwrap_or_default();
        match r.name.as_ref().map(|n| n.as_str().to_ascii_lowercase()) {
            Some(n) if n == "prefix" => key.starts_with(value),
            Some(n) if n == "suffix" => key.ends_with(value),
            _ => true,
        }
    })
}

/// S3's event document (event version 2.1).
fn document(
    bucket: &BucketMeta,
    event: EventName,
    object: &ObjectRef<'_>,
    seq: u64,
    origin: &Origin,
    configuration_id: Option<&str>,
    now_ms: i64,
) -> serde_json::Value {
    let mut obj = serde_json::Map::new();
    obj.insert("key".into(), form_encode(object.key).into());
    if let Some(size) = object.size {
        obj.insert("size".into(), size.into());
    }
    if let Some(etag) = object.etag {
        obj.insert("eTag".into(), etag.trim_matches('"').into());
    }
    // Only a versioned bucket's versions have an id worth reporting ("null" otherwise).
    if let Some(v) = object.version_id.filter(|v| *v != "null") {
        obj.insert("versionId".into(), v.into());
    }
    obj.insert("sequencer".into(), format!("{seq:016X}").into());
    serde_json::json!({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": bucket.region,
            "eventTime": iso8601(now_ms),
            "eventName": event.as_str(),
            "userIdentity": {"principalId": if origin.account_id.is_empty() {
                "s3.amazonaws.com".to_string()
            } else {
                format!("AWS:{}", origin.account_id)
            }},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {
                "x-amz-request-id": origin.request_id,
                "x-amz-id-2": origin.request_id,
            },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": configuration_id.unwrap_or_default(),
                "bucket": {
                    "name": bucket.name,
                    "ownerIdentity": {"principalId": bucket.account_id},
                    "arn": format!("arn:aws:s3:::{}", bucket.name),
                },
                "object": obj,
            }
        }]
    })
}

/// Keys in events are URL-encoded as in an HTML form (a space is `+`), with `/` kept
/// (S3 sends `photos/red+flower.jpg`).
fn form_encode(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' | b'/' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `1970-01-01T00:00:00.000Z`: S3's own timestamp format.
fn iso8601(ms: i64) -> String {
    let mut out = Vec::with_capacity(24);
    let _ = crate::listing::timestamp(ms).format(s3s::dto::TimestampFormat::DateTime, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use s3s::dto::{
        Event, FilterRule, FilterRuleName, NotificationConfigurationFilter, S3KeyFilter,
    };

    fn config(events: &[&str], rules: &[(&str, &str)]) -> LambdaFunctionConfiguration {
        LambdaFunctionConfiguration {
            events: events
                .iter()
                .map(|e| Event::from((*e).to_string()))
                .collect(),
            filter: (!rules.is_empty()).then(|| NotificationConfigurationFilter {
                key: Some(S3KeyFilter {
                    filter_rules: Some(
                        rules
                            .iter()
                            .map(|(n, v)| FilterRule {
                                name: Some(FilterRuleName::from((*n).to_string())),
                                value: Some((*v).to_string()),
                            })
                            .collect(),
                    ),
                }),
            }),
            id: Some("cfg".into()),
            lambda_function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
        }
    }

    #[test]
    fn events_match_by_name_or_wildcard() {
        let all_created = config(&["s3:ObjectCreated:*"], &[]);
        assert!(matches_event(&all_created, EventName::Put));
        assert!(matches_event(
            &all_created,
            EventName::CompleteMultipartUpload
        ));
        assert!(!matches_event(&all_created, EventName::Delete));
        let put_only = config(&["s3:ObjectCreated:Put"], &[]);
        assert!(matches_event(&put_only, EventName::Put));
        assert!(!matches_event(&put_only, EventName::Copy));
        let removed = config(&["s3:ObjectRemoved:*"], &[]);
        assert!(matches_event(&removed, EventName::DeleteMarkerCreated));
        assert!(!matches_event(&removed, EventName::Post));
        let tagging = config(&["s3:ObjectTagging:*"], &[]);
        assert!(matches_event(&tagging, EventName::TaggingDelete));
        assert!(!matches_event(&tagging, EventName::AclPut));
    }

    #[test]
    fn filters_need_every_rule() {
        let c = config(
            &["s3:ObjectCreated:*"],
            &[("Prefix", "in/"), ("suffix", ".jpg")],
        );
        assert!(matches_filter(&c, "in/cat.jpg"));
        assert!(!matches_filter(&c, "in/cat.png"));
        assert!(!matches_filter(&c, "out/cat.jpg"));
        assert!(matches_filter(&config(&[], &[]), "anything"));
    }

    #[test]
    fn document_shape() {
        let b = BucketMeta {
            name: "bk".into(),
            account_id: "000000000000".into(),
            region: "us-east-1".into(),
            created_ms: 0,
            versioning: None,
            mfa_delete: None,
            object_lock_enabled: false,
            ownership: None,
            acl: None,
            tags: Vec::new(),
        };
        let o = ObjectRef {
            key: "a b/ü.txt",
            size: Some(5),
            etag: Some("\"abc\""),
            version_id: Some("null"),
            seq: None,
        };
        let origin = Origin {
            account_id: "000000000000".into(),
            request_id: "rid".into(),
            delivered: true,
        };
        let d = document(
            &b,
            EventName::Put,
            &o,
            26,
            &origin,
            Some("cfg"),
            1_700_000_000_123,
        );
        let r = &d["Records"][0];
        assert_eq!(r["eventName"], "ObjectCreated:Put");
        assert_eq!(r["eventTime"], "2023-11-14T22:13:20.123Z");
        assert_eq!(r["s3"]["object"]["key"], "a+b/%C3%BC.txt");
        assert_eq!(r["s3"]["object"]["eTag"], "abc");
        assert_eq!(r["s3"]["object"]["size"], 5);
        assert!(r["s3"]["object"].get("versionId").is_none());
        assert_eq!(r["s3"]["object"]["sequencer"], "000000000000001A");
        assert_eq!(r["s3"]["bucket"]["arn"], "arn:aws:s3:::bk");
        assert_eq!(r["s3"]["configurationId"], "cfg");
    }
}
