//! Unit tests over the in-memory store engine.

use std::collections::HashMap;
use std::sync::Arc;

use nimbus_core::{ManualClock, Principal, RequestContext};
use nimbus_model::logs::*;
use nimbus_store::Db;

use crate::{keys, Logs, LogsConfig, LogsError};

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const DAY: i64 = 86_400_000;

fn ctx() -> RequestContext {
    RequestContext {
        account_id: "000000000000".into(),
        region: "us-east-1".into(),
        principal: Principal::root("000000000000", "test"),
        request_id: "req-1".into(),
    }
}

fn setup() -> (Arc<Logs>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(T0));
    let logs = Logs::new(Db::in_memory(), clock.clone());
    (logs, clock)
}

fn code(e: &nimbus_wire::AwsError) -> (&str, &str) {
    (e.code.as_str(), e.message.as_str())
}

async fn group(logs: &Logs, name: &str) {
    logs.create_log_group(
        &ctx(),
        CreateLogGroupRequest {
            log_group_name: name.into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
}

async fn stream(logs: &Logs, g: &str, s: &str) {
    logs.create_log_stream(
        &ctx(),
        CreateLogStreamRequest {
            log_group_name: g.into(),
            log_stream_name: s.into(),
        },
    )
    .await
    .unwrap();
}

async fn put(
    logs: &Logs,
    g: &str,
    s: &str,
    events: &[(i64, &str)],
) -> Result<PutLogEventsResponse, nimbus_wire::AwsError> {
    logs.put_log_events(
        &ctx(),
        PutLogEventsRequest {
            log_group_name: g.into(),
            log_stream_name: s.into(),
            log_events: events
                .iter()
                .map(|(t, m)| InputLogEvent {
                    timestamp: *t,
                    message: (*m).to_string(),
                })
                .collect(),
            ..Default::default()
        },
    )
    .await
}

fn get_req(g: &str, s: &str) -> GetLogEventsRequest {
    GetLogEventsRequest {
        log_group_name: Some(g.into()),
        log_stream_name: s.into(),
        ..Default::default()
    }
}

fn messages(events: &[OutputLogEvent]) -> Vec<String> {
    events.iter().map(|e| e.message.clone().unwrap()).collect()
}

#[tokio::test]
async fn groups_create_describe_delete() {
    let (logs, _) = setup();
    group(&logs, "/aws/lambda/a").await;
    group(&logs, "/aws/lambda/b").await;
    group(&logs, "other").await;
    let err = logs
        .create_log_group(
            &ctx(),
            CreateLogGroupRequest {
                log_group_name: "other".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        code(&err),
        (
            "ResourceAlreadyExistsException",
            "The specified log group already exists"
        )
    );

    let all = logs
        .describe_log_groups(&ctx(), DescribeLogGroupsRequest::default())
        .await
        .unwrap();
    let names: Vec<_> = all
        .log_groups
        .unwrap()
        .into_iter()
        .map(|g| g.log_group_name.unwrap())
        .collect();
    assert_eq!(names, ["/aws/lambda/a", "/aws/lambda/b", "other"]);

    let pre = logs
        .describe_log_groups(
            &ctx(),
            DescribeLogGroupsRequest {
                log_group_name_prefix: Some("/aws/".into()),
                limit: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let g = &pre.log_groups.as_ref().unwrap()[0];
    assert_eq!(g.log_group_name.as_deref(), Some("/aws/lambda/a"));
    assert_eq!(
        g.arn.as_deref(),
        Some("arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/a:*")
    );
    assert_eq!(g.creation_time, Some(T0));
    assert_eq!(g.stored_bytes, Some(0));
    assert!(g.retention_in_days.is_none());
    let page2 = logs
        .describe_log_groups(
            &ctx(),
            DescribeLogGroupsRequest {
                log_group_name_prefix: Some("/aws/".into()),
                limit: Some(1),
                next_token: pre.next_token.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        page2.log_groups.unwrap()[0].log_group_name.as_deref(),
        Some("/aws/lambda/b")
    );
    assert!(page2.next_token.is_none());

    let pat = logs
        .describe_log_groups(
            &ctx(),
            DescribeLogGroupsRequest {
                log_group_name_pattern: Some("lambda/b".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let pat = pat.log_groups.unwrap();
    assert_eq!(pat.len(), 1);
    assert!(pat[0].stored_bytes.is_none() && pat[0].arn.is_some());

    logs.delete_log_group(
        &ctx(),
        DeleteLogGroupRequest {
            log_group_name: "other".into(),
        },
    )
    .await
    .unwrap();
    let err = logs
        .delete_log_group(
            &ctx(),
            DeleteLogGroupRequest {
                log_group_name: "other".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        code(&err),
        (
            "ResourceNotFoundException",
            "The specified log group does not exist."
        )
    );
}

#[tokio::test]
async fn streams_order_and_paging() {
    let (logs, _) = setup();
    group(&logs, "g").await;
    for s in ["c", "a", "b"] {
        stream(&logs, "g", s).await;
    }
    let err = logs
        .create_log_stream(
            &ctx(),
            CreateLogStreamRequest {
                log_group_name: "g".into(),
                log_stream_name: "a".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        code(&err),
        (
            "ResourceAlreadyExistsException",
            "The specified log stream already exists"
        )
    );
    let err = logs
        .create_log_stream(
            &ctx(),
            CreateLogStreamRequest {
                log_group_name: "nope".into(),
                log_stream_name: "a".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(code(&err).0, "ResourceNotFoundException");

    put(&logs, "g", "a", &[(T0 - 30, "x")]).await.unwrap();
    put(&logs, "g", "c", &[(T0 - 20, "y")]).await.unwrap();
    put(&logs, "g", "b", &[(T0 - 10, "z")]).await.unwrap();

    let names = |r: DescribeLogStreamsResponse| -> Vec<String> {
        r.log_streams
            .unwrap()
            .into_iter()
            .map(|s| s.log_stream_name.unwrap())
            .collect()
    };
    let by_name = logs
        .describe_log_streams(
            &ctx(),
            DescribeLogStreamsRequest {
                log_group_name: Some("g".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(names(by_name), ["a", "b", "c"]);

    let by_time_desc = |token: Option<String>| DescribeLogStreamsRequest {
        log_group_name: Some("g".into()),
        order_by: Some(OrderBy::LastEventTime),
        descending: Some(true),
        limit: Some(2),
        next_token: token,
        ..Default::default()
    };
    let p1 = logs
        .describe_log_streams(&ctx(), by_time_desc(None))
        .await
        .unwrap();
    let tok = p1.next_token.clone();
    let first = p1.log_streams.clone().unwrap();
    assert_eq!(first[0].last_event_timestamp, Some(T0 - 10));
    assert_eq!(
        first[0].arn.as_deref(),
        Some("arn:aws:logs:us-east-1:000000000000:log-group:g:log-stream:b")
    );
    assert_eq!(names(p1), ["b", "c"]);
    assert!(tok.is_some());
    let p2 = logs
        .describe_log_streams(&ctx(), by_time_desc(tok))
        .await
        .unwrap();
    assert!(p2.next_token.is_none());
    assert_eq!(names(p2), ["a"]);

    let err = logs
        .describe_log_streams(
            &ctx(),
            DescribeLogStreamsRequest {
                log_group_name: Some("g".into()),
                order_by: Some(OrderBy::LastEventTime),
                log_stream_name_prefix: Some("a".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        code(&err),
        (
            "InvalidParameterException",
            "Cannot order by LastEventTime with a logStreamNamePrefix."
        )
    );

    logs.delete_log_stream(
        &ctx(),
        DeleteLogStreamRequest {
            log_group_name: "g".into(),
            log_stream_name: "a".into(),
        },
    )
    .await
    .unwrap();
    let err = logs
        .get_log_events(&ctx(), get_req("g", "a"))
        .await
        .unwrap_err();
    assert_eq!(
        code(&err),
        (
            "ResourceNotFoundException",
            "The specified log stream does not exist."
        )
    );
    // Re-created: empty, the old events are gone from both indexes.
    stream(&logs, "g", "a").await;
    let r = logs
        .get_log_events(&ctx(), get_req("g", "a"))
        .await
        .unwrap();
    assert!(r.events.unwrap().is_empty());
    let f = logs
        .filter_log_events(
            &ctx(),
            FilterLogEventsRequest {
                log_group_name: Some("g".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let msgs: Vec<_> = f
        .events
        .unwrap()
        .into_iter()
        .map(|e| e.message.unwrap())
        .collect();
    assert_eq!(msgs, ["y", "z"]);
}

#[tokio::test]
async fn put_log_events_rules() {
    let (logs, _) = setup();
    group(&logs, "g").await;
    stream(&logs, "g", "s").await;

    let err = put(&logs, "g", "s", &[(T0, "b"), (T0 - 1, "a")])
        .await
        .unwrap_err();
    assert_eq!(
        code(&err),
        (
            "InvalidParameterException",
            "Log events in a single PutLogEvents request must be in chronological order."
        )
    );
    let err = put(&logs, "g", "s", &[(T0 - 2 * DAY, "a"), (T0, "b")])
        .await
        .unwrap_err();
    assert_eq!(
        code(&err),
        ("InvalidParameterException", "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")
    );
    let big = "x".repeat(600_000);
    let err = put(&logs, "g", "s", &[(T0, &big), (T0, &big)])
        .await
        .unwrap_err();
    assert_eq!(
        code(&err),
        (
            "InvalidParameterException",
            "Upload too large: 1200052 bytes exceeds limit of 1048576"
        )
    );
    let err = put(&logs, "nope", "s", &[(T0, "a")]).await.unwrap_err();
    assert_eq!(
        code(&err),
        (
            "ResourceNotFoundException",
            "The specified log group does not exist."
        )
    );
    let err = put(&logs, "g", "nope", &[(T0, "a")]).await.unwrap_err();
    assert_eq!(
        code(&err),
        (
            "ResourceNotFoundException",
            "The specified log stream does not exist."
        )
    );

    // Too old and too new events are rejected; the rest is stored.
    let r = put(
        &logs,
        "g",
        "s",
        &[
            (T0 - 15 * DAY, "old"),
            (T0 - 1, "ok1"),
            (T0, "ok2"),
            (T0 + 3 * 3_600_000, "new"),
        ],
    )
    .await
    .unwrap();
    let info = r.rejected_log_events_info.unwrap();
    assert_eq!(info.too_old_log_event_end_index, Some(0));
    assert_eq!(info.too_new_log_event_start_index, Some(3));
    assert!(info.expired_log_event_end_index.is_none());
    assert_eq!(r.next_sequence_token.as_ref().map(String::len), Some(56));

    let got = logs
        .get_log_events(&ctx(), get_req("g", "s"))
        .await
        .unwrap();
    assert_eq!(messages(got.events.as_ref().unwrap()), ["ok1", "ok2"]);
    let e = &got.events.unwrap()[0];
    assert_eq!(e.ingestion_time, Some(T0));
    let groups = logs
        .describe_log_groups(&ctx(), DescribeLogGroupsRequest::default())
        .await
        .unwrap();
    assert_eq!(groups.log_groups.unwrap()[0].stored_bytes, Some(6));

    // A sequence token is accepted and ignored.
    let r = logs
        .put_log_events(
            &ctx(),
            PutLogEventsRequest {
                log_group_name: "g".into(),
                log_stream_name: "s".into(),
                log_events: vec![InputLogEvent {
                    timestamp: T0,
                    message: "ok3".into(),
                }],
                sequence_token: Some("bogus".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(r.rejected_log_events_info.is_none());
}

#[tokio::test]
async fn get_log_events_tokens() {
    let (logs, _) = setup();
    group(&logs, "g").await;
    stream(&logs, "g", "s").await;
    let batch: Vec<(i64, String)> = (0..10).map(|i| (T0 - 100 + i, format!("m{i}"))).collect();
    let refs: Vec<(i64, &str)> = batch.iter().map(|(t, m)| (*t, m.as_str())).collect();
    put(&logs, "g", "s", &refs).await.unwrap();

    // Default: the newest `limit` events.
    let tail = logs
        .get_log_events(
            &ctx(),
            GetLogEventsRequest {
                limit: Some(3),
                ..get_req("g", "s")
            },
        )
        .await
        .unwrap();
    assert_eq!(messages(tail.events.as_ref().unwrap()), ["m7", "m8", "m9"]);
    let f = tail.next_forward_token.clone().unwrap();
    let b = tail.next_backward_token.clone().unwrap();
    assert!(f.starts_with("f/") && f.len() == 58, "{f}");
    assert!(b.starts_with("b/") && b.len() == 58, "{b}");
    // Forward at the end: nothing, and the same token back.
    let end = logs
        .get_log_events(
            &ctx(),
            GetLogEventsRequest {
                next_token: Some(f.clone()),
                ..get_req("g", "s")
            },
        )
        .await
        .unwrap();
    assert!(end.events.unwrap().is_empty());
    assert_eq!(end.next_forward_token.as_deref(), Some(f.as_str()));
    // Backward: the three before.
    let back = logs
        .get_log_events(
            &ctx(),
            GetLogEventsRequest {
                next_token: Some(b),
                limit: Some(3),
                ..get_req("g", "s")
            },
        )
        .await
        .unwrap();
    assert_eq!(messages(back.events.as_ref().unwrap()), ["m4", "m5", "m6"]);

    // From the head, paging forward through everything.
    let mut seen = Vec::new();
    let mut token = None;
    for _ in 0..10 {
        let page = logs
            .get_log_events(
                &ctx(),
                GetLogEventsRequest {
                    start_from_head: Some(true),
                    limit: Some(4),
                    next_token: token.clone(),
                    ..get_req("g", "s")
                },
            )
            .await
            .unwrap();
        let next = page.next_forward_token.clone();
        seen.extend(messages(&page.events.unwrap()));
        if next == token {
            break;
        }
        token = next;
    }
    assert_eq!(seen.len(), 10);
    assert_eq!(seen[0], "m0");

    // New events after the forward token show up on the next call (tailing).
    put(&logs, "g", "s", &[(T0, "late")]).await.unwrap();
    let more = logs
        .get_log_events(
            &ctx(),
            GetLogEventsRequest {
                next_token: Some(f),
                ..get_req("g", "s")
            },
        )
        .await
        .unwrap();
    assert_eq!(messages(&more.events.unwrap()), ["late"]);

    // Time window: start inclusive, end exclusive.
    let win = logs
        .get_log_events(
            &ctx(),
            GetLogEventsRequest {
                start_time: Some(T0 - 98),
                end_time: Some(T0 - 95),
                start_from_head: Some(true),
                ..get_req("g", "s")
            },
        )
        .await
        .unwrap();
    assert_eq!(messages(&win.events.unwrap()), ["m2", "m3", "m4"]);

    let err = logs
        .get_log_events(
            &ctx(),
            GetLogEventsRequest {
                next_token: Some("zz".into()),
                ..get_req("g", "s")
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        code(&err),
        (
            "InvalidParameterException",
            "The specified nextToken is invalid."
        )
    );
}

#[tokio::test]
async fn filter_log_events_patterns_streams_paging() {
    let (logs, _) = setup();
    group(&logs, "g").await;
    stream(&logs, "g", "app-1").await;
    stream(&logs, "g", "app-2").await;
    stream(&logs, "g", "db").await;
    put(
        &logs,
        "g",
        "app-1",
        &[(T0 - 50, "INFO start"), (T0 - 40, "ERROR boom")],
    )
    .await
    .unwrap();
    put(
        &logs,
        "g",
        "app-2",
        &[(T0 - 45, "WARN slow"), (T0 - 35, "ERROR timeout")],
    )
    .await
    .unwrap();
    put(
        &logs,
        "g",
        "db",
        &[(T0 - 42, r#"{"level":"ERROR","ms":900}"#)],
    )
    .await
    .unwrap();

    let filter = |pattern: &str, extra: FilterLogEventsRequest| FilterLogEventsRequest {
        log_group_name: Some("g".into()),
        filter_pattern: Some(pattern.into()),
        ..extra
    };
    let msgs = |r: FilterLogEventsResponse| -> Vec<String> {
        r.events
            .unwrap()
            .into_iter()
            .map(|e| e.message.unwrap())
            .collect()
    };
    let all = logs
        .filter_log_events(&ctx(), filter("", Default::default()))
        .await
        .unwrap();
    let streams: Vec<_> = all
        .events
        .clone()
        .unwrap()
        .into_iter()
        .map(|e| e.log_stream_name.unwrap())
        .collect();
    assert_eq!(streams, ["app-1", "app-2", "db", "app-1", "app-2"]);
    assert!(all.next_token.is_none());

    let err = logs
        .filter_log_events(&ctx(), filter("ERROR", Default::default()))
        .await
        .unwrap();
    assert_eq!(
        msgs(err),
        [
            r#"{"level":"ERROR","ms":900}"#,
            "ERROR boom",
            "ERROR timeout"
        ]
    );
    let r = logs
        .filter_log_events(&ctx(), filter("ERROR -timeout", Default::default()))
        .await
        .unwrap();
    assert_eq!(r.events.unwrap().len(), 2);
    let r = logs
        .filter_log_events(&ctx(), filter("?WARN ?INFO", Default::default()))
        .await
        .unwrap();
    assert_eq!(msgs(r), ["INFO start", "WARN slow"]);
    let r = logs
        .filter_log_events(&ctx(), filter("{ $.ms > 500 }", Default::default()))
        .await
        .unwrap();
    assert_eq!(r.events.unwrap().len(), 1);
    let r = logs
        .filter_log_events(
            &ctx(),
            filter(
                "",
                FilterLogEventsRequest {
                    log_stream_name_prefix: Some("app".into()),
                    ..Default::default()
                },
            ),
        )
        .await
        .unwrap();
    assert_eq!(r.events.unwrap().len(), 4);
    let r = logs
        .filter_log_events(
            &ctx(),
            filter(
                "",
                FilterLogEventsRequest {
                    log_stream_names: Some(vec!["db".into()]),
                    start_time: Some(T0 - 42),
                    end_time: Some(T0 - 42),
                    ..Default::default()
                },
            ),
        )
        .await
        .unwrap();
    assert_eq!(r.events.unwrap().len(), 1);

    // Paging with limit 2 visits every event once, in time order.
    let mut seen = Vec::new();
    let mut token = None;
    for _ in 0..10 {
        let page = logs
            .filter_log_events(
                &ctx(),
                filter(
                    "",
                    FilterLogEventsRequest {
                        limit: Some(2),
                        next_token: token.clone(),
                        ..Default::default()
                    },
                ),
            )
            .await
            .unwrap();
        token = page.next_token.clone();
        seen.extend(msgs(page));
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(seen[0], "INFO start");
    assert_eq!(seen[4], "ERROR timeout");

    let err = logs
        .filter_log_events(&ctx(), filter("[a, b]", Default::default()))
        .await
        .unwrap_err();
    assert_eq!(err.code, "InvalidParameterException");
}

#[tokio::test]
async fn retention_policy_and_sweep() {
    let (logs, clock) = setup();
    group(&logs, "g").await;
    stream(&logs, "g", "s").await;
    let err = logs
        .put_retention_policy(
            &ctx(),
            PutRetentionPolicyRequest {
                log_group_name: "g".into(),
                retention_in_days: 2,
            },
        )
        .await
        .unwrap_err();
    assert!(err.message.starts_with(
        "1 validation error detected: Value '2' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: [1, 3, 5, 7,"
    ));
    put(&logs, "g", "s", &[(T0 - 10, "old-1"), (T0 - 5, "old-2")])
        .await
        .unwrap();
    logs.put_retention_policy(
        &ctx(),
        PutRetentionPolicyRequest {
            log_group_name: "g".into(),
            retention_in_days: 1,
        },
    )
    .await
    .unwrap();
    let groups = logs
        .describe_log_groups(&ctx(), DescribeLogGroupsRequest::default())
        .await
        .unwrap();
    assert_eq!(groups.log_groups.unwrap()[0].retention_in_days, Some(1));

    // Nothing is old enough yet.
    let st = logs.sweep_once().await.unwrap();
    assert_eq!(st.expired_events, 0);
    clock.advance_millis(DAY);
    put(&logs, "g", "s", &[(T0 + DAY, "fresh")]).await.unwrap();
    let st = logs.sweep_once().await.unwrap();
    assert_eq!(st.expired_events, 2);
    let got = logs
        .get_log_events(
            &ctx(),
            GetLogEventsRequest {
                start_from_head: Some(true),
                ..get_req("g", "s")
            },
        )
        .await
        .unwrap();
    assert_eq!(messages(&got.events.unwrap()), ["fresh"]);
    let groups = logs
        .describe_log_groups(&ctx(), DescribeLogGroupsRequest::default())
        .await
        .unwrap();
    assert_eq!(groups.log_groups.unwrap()[0].stored_bytes, Some(5));
    let f = logs
        .filter_log_events(
            &ctx(),
            FilterLogEventsRequest {
                log_group_name: Some("g".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(f.events.unwrap().len(), 1);

    // An event older than the retention period is "expired".
    let r = put(
        &logs,
        "g",
        "s",
        &[(T0 + DAY - 2 * DAY, "x"), (T0 + DAY, "y")],
    )
    .await;
    let info = r.unwrap().rejected_log_events_info.unwrap();
    assert_eq!(info.expired_log_event_end_index, Some(0));

    logs.delete_retention_policy(
        &ctx(),
        DeleteRetentionPolicyRequest {
            log_group_name: "g".into(),
        },
    )
    .await
    .unwrap();
    let groups = logs
        .describe_log_groups(&ctx(), DescribeLogGroupsRequest::default())
        .await
        .unwrap();
    assert!(groups.log_groups.unwrap()[0].retention_in_days.is_none());
}

#[tokio::test]
async fn deleting_a_group_removes_every_key() {
    let (logs, _) = setup();
    group(&logs, "g").await;
    stream(&logs, "g", "s1").await;
    stream(&logs, "g", "s2").await;
    let batch: Vec<(i64, String)> = (0..2500)
        .map(|i| (T0 - 5000 + i, format!("e{i}")))
        .collect();
    logs.append_internal("000000000000", "us-east-1", "g", "s1", batch.clone())
        .await
        .unwrap();
    logs.append_internal("000000000000", "us-east-1", "g", "s2", batch)
        .await
        .unwrap();
    logs.delete_log_group(
        &ctx(),
        DeleteLogGroupRequest {
            log_group_name: "g".into(),
        },
    )
    .await
    .unwrap();
    logs.sweep_once().await.unwrap();
    let snap = logs.db.snapshot().unwrap();
    for prefix in [
        keys::EVENT,
        keys::GROUP_EVENT,
        keys::STREAM,
        keys::STREAM_BY_TIME,
        b"logs/gc/".as_slice(),
        keys::GROUP,
    ] {
        assert!(
            crate::sweep::is_empty_under(snap.as_ref(), prefix),
            "{:?}",
            String::from_utf8_lossy(prefix)
        );
    }
    drop(snap);
    group(&logs, "g").await;
    let err = logs
        .get_log_events(&ctx(), get_req("g", "s1"))
        .await
        .unwrap_err();
    assert_eq!(err.code, "ResourceNotFoundException");
}

#[tokio::test]
async fn tags_by_arn_and_by_name() {
    let (logs, _) = setup();
    logs.create_log_group(
        &ctx(),
        CreateLogGroupRequest {
            log_group_name: "g".into(),
            tags: Some(HashMap::from([("team".to_string(), "a".to_string())])),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let arn = "arn:aws:logs:us-east-1:000000000000:log-group:g".to_string();
    logs.tag_resource(
        &ctx(),
        TagResourceRequest {
            resource_arn: arn.clone(),
            tags: HashMap::from([("env".to_string(), "dev".to_string())]),
        },
    )
    .await
    .unwrap();
    let t = logs
        .list_tags_for_resource(
            &ctx(),
            ListTagsForResourceRequest {
                resource_arn: arn.clone(),
            },
        )
        .await
        .unwrap()
        .tags
        .unwrap();
    assert_eq!(t.len(), 2);
    logs.untag_resource(
        &ctx(),
        UntagResourceRequest {
            resource_arn: arn.clone(),
            tag_keys: vec!["team".into()],
        },
    )
    .await
    .unwrap();
    let t = logs
        .list_tags_log_group(
            &ctx(),
            ListTagsLogGroupRequest {
                log_group_name: "g".into(),
            },
        )
        .await
        .unwrap()
        .tags
        .unwrap();
    assert_eq!(t, HashMap::from([("env".to_string(), "dev".to_string())]));
    let err = logs
        .list_tags_for_resource(
            &ctx(),
            ListTagsForResourceRequest {
                resource_arn: "arn:aws:logs:us-east-1:000000000000:log-group:none".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, "ResourceNotFoundException");
}

#[tokio::test]
async fn append_internal_creates_group_and_stream() {
    let (logs, _) = setup();
    logs.append_internal(
        "000000000000",
        "us-east-1",
        "/aws/lambda/f",
        "2026/01/01/[$LATEST]abc",
        vec![(T0 + 2, "second".into()), (T0 + 1, "first".into())],
    )
    .await
    .unwrap();
    let got = logs
        .get_log_events(
            &ctx(),
            GetLogEventsRequest {
                start_from_head: Some(true),
                ..get_req("/aws/lambda/f", "2026/01/01/[$LATEST]abc")
            },
        )
        .await
        .unwrap();
    assert_eq!(messages(&got.events.unwrap()), ["first", "second"]);
}

#[tokio::test]
async fn log_writer_batches_and_flushes() {
    let (logs, _) = setup();
    let w = logs.sink();
    for i in 0..50 {
        w.append(
            "000000000000",
            "us-east-1",
            "/aws/lambda/f",
            "s",
            vec![(T0 + i, format!("line {i}"))],
        );
    }
    assert!(w.flush().await);
    let st = w.stats();
    assert_eq!(st.written_lines + st.dropped_lines, 50);
    assert_eq!(st.dropped_lines, 0);
    // Group commit: fewer transactions than batches.
    assert!(st.transactions < 50, "{st:?}");
    let got = logs
        .get_log_events(
            &ctx(),
            GetLogEventsRequest {
                start_from_head: Some(true),
                ..get_req("/aws/lambda/f", "s")
            },
        )
        .await
        .unwrap();
    assert_eq!(got.events.unwrap().len(), 50);
}

#[tokio::test]
async fn log_writer_merges_batches_per_stream_in_one_transaction() {
    let (logs, _) = setup();
    let w = logs.sink();
    // Interleaved streams, equal timestamps: each stream keeps its order of arrival.
    // (A current-thread test: the writer runs only once this task awaits, so it finds
    // all five batches queued and writes them together.)
    for (stream, line) in [
        ("a", "a1"),
        ("b", "b1"),
        ("a", "a2"),
        ("b", "b2"),
        ("a", "a3"),
    ] {
        w.append(
            "000000000000",
            "us-east-1",
            "/aws/lambda/m",
            stream,
            vec![(T0, line.to_string())],
        );
    }
    assert!(w.flush().await);
    let st = w.stats();
    assert_eq!((st.written_lines, st.transactions), (5, 1), "{st:?}");
    for (stream, want) in [("a", vec!["a1", "a2", "a3"]), ("b", vec!["b1", "b2"])] {
        let got = logs
            .get_log_events(
                &ctx(),
                GetLogEventsRequest {
                    start_from_head: Some(true),
                    ..get_req("/aws/lambda/m", stream)
                },
            )
            .await
            .unwrap();
        assert_eq!(messages(&got.events.unwrap()), want);
    }
}

#[test]
fn log_writer_drops_with_a_counter_when_full() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let clock = Arc::new(ManualClock::new(T0));
        let logs = Logs::with_config(
            Db::in_memory(),
            clock,
            LogsConfig {
                writer_queue_batches: 2,
                ..Default::default()
            },
        );
        let w = logs.sink();
        // The writer task cannot run before this task yields: the queue fills at 2.
        for i in 0..5 {
            w.append(
                "000000000000",
                "us-east-1",
                "g",
                "s",
                vec![(T0 + i, "x".into()), (T0 + i, "y".into())],
            );
        }
        assert_eq!(w.stats().dropped_lines, 6);
        assert!(w.flush().await);
        assert_eq!(w.stats().written_lines, 4);
    });
}

#[tokio::test]
async fn dispatch_reports_validation_as_invalid_parameter() {
    let (logs, _) = setup();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "x-amz-target",
        http::HeaderValue::from_static("Logs_20140328.CreateLogGroup"),
    );
    headers.insert(
        "content-type",
        http::HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    let req = nimbus_wire::AwsRequest {
        method: http::Method::POST,
        path: "/".into(),
        query: String::new(),
        headers,
        body: bytes::Bytes::from_static(br#"{"logGroupName":"bad name!"}"#),
    };
    let resp = crate::dispatch(&logs, &ctx(), &req).await;
    assert_eq!(resp.status, 400);
    let body: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(body["__type"], "InvalidParameterException");
    let msg = body["message"].as_str().unwrap();
    assert!(
        msg.starts_with("1 validation error detected: Value 'bad name!' at 'logGroupName' failed to satisfy constraint"),
        "{msg}"
    );
    let _ = LogsError::invalid("x");
}

#[tokio::test]
async fn filter_hides_events_of_deleted_streams_not_yet_swept() {
    let (logs, _) = setup();
    group(&logs, "g").await;
    stream(&logs, "g", "a").await;
    stream(&logs, "g", "b").await;
    put(&logs, "g", "a", &[(T0, "from a")]).await.unwrap();
    put(&logs, "g", "b", &[(T0, "from b")]).await.unwrap();
    // What a delete leaves while the sweeper has not reached it: the tombstone only.
    let snap = logs.db.snapshot().unwrap();
    let g = crate::records::get_group(snap.as_ref(), "000000000000", "us-east-1", "g")
        .unwrap()
        .unwrap();
    let a = crate::records::get_stream(snap.as_ref(), g.id, "a")
        .unwrap()
        .unwrap();
    drop(snap);
    let (gid, sid) = (g.id, a.id);
    logs.db
        .write(move |txn| {
            txn.delete(&keys::stream(gid, "a"))?;
            txn.put(&keys::gc_stream(sid), &gid.to_be_bytes())
        })
        .await
        .unwrap();
    let f = logs
        .filter_log_events(
            &ctx(),
            FilterLogEventsRequest {
                log_group_name: Some("g".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let msgs: Vec<_> = f
        .events
        .unwrap()
        .into_iter()
        .map(|e| e.message.unwrap())
        .collect();
    assert_eq!(msgs, ["from b"]);
    let st = logs.sweep_once().await.unwrap();
    assert_eq!(st.garbage_keys, 1);
}
