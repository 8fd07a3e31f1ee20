//! The control plane through the generated trait, over an in-memory store and blob store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::Write;
use std::sync::Arc;

use nimbus_blob::BlobStore;
use nimbus_core::{Clock, ManualClock, Principal, RequestContext, SharedClock};
use nimbus_functions::{Engine, EngineConfig, NullLogSink};
use nimbus_iam::records::{self as iam_records, RoleRecord};
use nimbus_iam::IamState;
use nimbus_lambda::{Lambda, LambdaConfig};
use nimbus_model::lambda::{self as m, LambdaApi};
use nimbus_store::Db;

const ACCT: &str = "000000000000";
const ROLE: &str = "arn:aws:iam::000000000000:role/lambda-role";

fn ctx() -> RequestContext {
    RequestContext {
        account_id: ACCT.into(),
        region: "us-east-1".into(),
        principal: Principal::root(ACCT, "test"),
        request_id: uuid::Uuid::new_v4().to_string(),
    }
}

fn zip_of(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        for (name, content) in entries {
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .unix_permissions(0o644);
            w.start_file(*name, opts).unwrap();
            w.write_all(content.as_bytes()).unwrap();
        }
        w.finish().unwrap();
    }
    buf.into_inner()
}

struct Fixture {
    lambda: Lambda,
    db: Db,
    _dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::in_memory();
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let shared: SharedClock = clock.clone();
    let iam = IamState::new(db.clone(), shared.clone());
    let role = RoleRecord {
        name: "lambda-role".into(),
        role_id: "AROAEXAMPLE".into(),
        path: "/".into(),
        create_date: 0.0,
        assume_role_policy_document: "{}".into(),
        description: None,
        max_session_duration: 3600,
        permissions_boundary: None,
        tags: vec![],
    };
    db.write(move |txn| iam_records::put(txn, &iam_records::role_key(ACCT, "lambda-role"), &role))
        .await
        .unwrap();
    let engine = Engine::new(
        EngineConfig {
            work_dir: dir.path().join("work"),
            // Shared by test runs: the engine installs boto3 there on first use.
            runtime_cache_dir: std::env::temp_dir().join("nimbus-lambda-test-runtimes"),
            helper_exe: "/bin/false".into(),
            nimbus_addr: "127.0.0.1:4566".parse().unwrap(),
            nimbus_socket: None,
            account_concurrency: 1000,
            idle_timeout_ms: 60_000,
            init_timeout_ms: 10_000,
            hidden_paths: vec![],
        },
        Arc::new(NullLogSink),
    );
    let lambda = Lambda::new(
        db.clone(),
        Arc::new(BlobStore::in_memory()),
        shared,
        engine,
        iam,
        LambdaConfig {
            code_cache_dir: dir.path().join("code"),
            async_retry_base_delay_ms: 100,
            ..LambdaConfig::default()
        },
    );
    Fixture {
        lambda,
        db,
        _dir: dir,
        clock,
    }
}

/// An event a dead process had leased is due at once after a restart; a retry scheduled
/// for later keeps its time.
#[tokio::test]
async fn leases_of_a_dead_process_are_due_at_startup() {
    use nimbus_lambda::{keys, records, records::QueuedEvent};
    let fx = fixture().await;
    let now = fx.clock.now_millis();
    let leased = QueuedEvent {
        id: "ev-1".into(),
        account_id: ACCT.into(),
        region: "us-east-1".into(),
        function: "f".into(),
        qualifier: None,
        payload_b64: String::new(),
        enqueued_ms: now,
        attempts: 1,
        throttles: 0,
        leased: true,
    };
    let waiting = QueuedEvent {
        id: "ev-2".into(),
        leased: false,
        ..leased.clone()
    };
    let lease_key = keys::queued(now + 960_000, "ev-1");
    let retry_key = keys::queued(now + 60_000, "ev-2");
    let (lk, rk, l, w) = (lease_key.clone(), retry_key.clone(), leased, waiting);
    fx.db
        .write(move |txn| {
            records::put(txn, &lk, &l)?;
            records::put(txn, &rk, &w)
        })
        .await
        .unwrap();
    assert_eq!(fx.lambda.recover_leases().await.unwrap(), 1);
    let snap = fx.db.snapshot().unwrap();
    assert!(snap.get(&lease_key).unwrap().is_none());
    let due: QueuedEvent = records::get(snap.as_ref(), &keys::queued(now, "ev-1"))
        .unwrap()
        .unwrap();
    assert!(!due.leased);
    assert_eq!(due.attempts, 1);
    assert!(snap.get(&retry_key).unwrap().is_some());
    // Nothing leased is left: a second recovery finds nothing.
    drop(snap);
    assert_eq!(fx.lambda.recover_leases().await.unwrap(), 0);
}

fn create_req(name: &str, zip: Vec<u8>) -> m::CreateFunctionRequest {
    m::CreateFunctionRequest {
        function_name: name.into(),
        runtime: Some(m::Runtime::from("python3.12")),
        role: ROLE.into(),
        handler: Some("index.handler".into()),
        code: m::FunctionCode {
            zip_file: Some(zip),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test]
async fn function_lifecycle() {
    let f = fixture().await;
    let l = &f.lambda;
    let zip = zip_of(&[("index.py", "def handler(e, c):\n    return e\n")]);
    let created = l
        .create_function(&ctx(), create_req("f1", zip.clone()))
        .await
        .unwrap();
    assert_eq!(created.state.as_ref().map(|s| s.as_str()), Some("Pending"));
    assert_eq!(created.version.as_deref(), Some("$LATEST"));
    assert_eq!(created.timeout, Some(3));
    assert_eq!(created.memory_size, Some(128));
    assert_eq!(created.code_size, Some(zip.len() as i64));
    assert_eq!(
        created.function_arn.as_deref(),
        Some("arn:aws:lambda:us-east-1:000000000000:function:f1")
    );

    let dup = l
        .create_function(&ctx(), create_req("f1", zip.clone()))
        .await
        .unwrap_err();
    assert_eq!(dup.code, "ResourceConflictException");
    assert_eq!(dup.message, "Function already exist: f1");

    let got = l
        .get_function(
            &ctx(),
            m::GetFunctionRequest {
                function_name: "f1".into(),
                qualifier: None,
            },
        )
        .await
        .unwrap();
    let cfg = got.configuration.unwrap();
    assert_eq!(cfg.state.as_ref().map(|s| s.as_str()), Some("Active"));
    assert_eq!(
        cfg.last_update_status.as_ref().map(|s| s.as_str()),
        Some("Successful")
    );
    // The code location serves the zip.
    let loc = got.code.unwrap().location.unwrap();
    let token = loc.rsplit('/').next().unwrap();
    assert_eq!(l.code_download(token).await.unwrap().to_vec(), zip);
    assert!(l.code_download("x.y.z.sig").await.is_err());

    let missing = l
        .get_function(
            &ctx(),
            m::GetFunctionRequest {
                function_name: "nope".into(),
                qualifier: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(missing.code, "ResourceNotFoundException");
    assert_eq!(
        missing.message,
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope"
    );

    // Configuration update, then publish, then a no-change publish returns the same version.
    let upd = l
        .update_function_configuration(
            &ctx(),
            m::UpdateFunctionConfigurationRequest {
                function_name: "f1".into(),
                timeout: Some(30),
                environment: Some(m::Environment {
                    variables: Some([("A".to_string(), "1".to_string())].into_iter().collect()),
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(upd.timeout, Some(30));
    assert_eq!(
        upd.last_update_status.as_ref().map(|s| s.as_str()),
        Some("InProgress")
    );
    let v1 = l
        .publish_version(
            &ctx(),
            m::PublishVersionRequest {
                function_name: "f1".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(v1.version.as_deref(), Some("1"));
    let again = l
        .publish_version(
            &ctx(),
            m::PublishVersionRequest {
                function_name: "f1".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(again.version.as_deref(), Some("1"));

    let bad = l
        .update_function_configuration(
            &ctx(),
            m::UpdateFunctionConfigurationRequest {
                function_name: "f1".into(),
                timeout: Some(901),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(bad.message, "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900");

    // New code, version 2; versions list in order.
    let zip2 = zip_of(&[("index.py", "def handler(e, c):\n    return 2\n")]);
    let uc = l
        .update_function_code(
            &ctx(),
            m::UpdateFunctionCodeRequest {
                function_name: "f1".into(),
                zip_file: Some(zip2.clone()),
                publish: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(uc.version.as_deref(), Some("2"));
    let versions = l
        .list_versions_by_function(
            &ctx(),
            m::ListVersionsByFunctionRequest {
                function_name: "f1".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .versions
        .unwrap();
    let names: Vec<_> = versions
        .iter()
        .map(|v| v.version.clone().unwrap())
        .collect();
    assert_eq!(names, vec!["$LATEST", "1", "2"]);

    // Alias with weights; deleting a version an alias uses is refused.
    let alias = l
        .create_alias(
            &ctx(),
            m::CreateAliasRequest {
                function_name: "f1".into(),
                name: "live".into(),
                function_version: "1".into(),
                routing_config: Some(m::AliasRoutingConfiguration {
                    additional_version_weights: Some(
                        [("2".to_string(), 0.5)].into_iter().collect(),
                    ),
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        alias.alias_arn.as_deref(),
        Some("arn:aws:lambda:us-east-1:000000000000:function:f1:live")
    );
    let conflict = l
        .delete_function(
            &ctx(),
            m::DeleteFunctionRequest {
                function_name: "f1".into(),
                qualifier: Some("2".into()),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(conflict.code, "ResourceConflictException");
    let qualified = l
        .get_function_configuration(
            &ctx(),
            m::GetFunctionConfigurationRequest {
                function_name: "f1:live".into(),
                qualifier: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(qualified.version.as_deref(), Some("1"));
    let no_alias = l
        .get_alias(
            &ctx(),
            m::GetAliasRequest {
                function_name: "f1".into(),
                name: "dead".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        no_alias.message,
        "Cannot find alias arn: arn:aws:lambda:us-east-1:000000000000:function:f1:dead"
    );

    // Delete everything; the blobs become garbage and the reaper removes them.
    l.delete_function(
        &ctx(),
        m::DeleteFunctionRequest {
            function_name: "f1".into(),
            qualifier: None,
        },
    )
    .await
    .unwrap();
    let gone = l
        .get_function(
            &ctx(),
            m::GetFunctionRequest {
                function_name: "f1".into(),
                qualifier: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(gone.code, "ResourceNotFoundException");
    assert!(l.code_download(token).await.is_ok(), "not reaped yet");
    f.clock.advance_millis(1);
    let n = l.dispatch_due().await.unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn validation_messages() {
    let f = fixture().await;
    let l = &f.lambda;
    let zip = zip_of(&[("index.py", "x")]);
    let mut r = create_req("f2", zip.clone());
    r.role = "arn:aws:iam::000000000000:role/nope".into();
    let e = l.create_function(&ctx(), r).await.unwrap_err();
    assert_eq!(e.code, "InvalidParameterValueException");
    assert_eq!(
        e.message,
        "The role defined for the function cannot be assumed by Lambda."
    );

    let mut r = create_req("f2", zip.clone());
    r.environment = Some(m::Environment {
        variables: Some(
            [("AWS_REGION".to_string(), "x".to_string())]
                .into_iter()
                .collect(),
        ),
    });
    let e = l.create_function(&ctx(), r).await.unwrap_err();
    assert!(
        e.message
            .contains("Reserved keys used in this request: AWS_REGION"),
        "{}",
        e.message
    );

    let r = create_req("f2", b"not a zip".to_vec());
    let e = l.create_function(&ctx(), r).await.unwrap_err();
    assert_eq!(
        e.message,
        "Could not unzip uploaded file. Please check your file, then try to upload again."
    );

    let mut r = create_req("f2", zip.clone());
    r.memory_size = Some(20_000);
    let e = l.create_function(&ctx(), r).await.unwrap_err();
    assert!(
        e.message.contains("less than or equal to 10240"),
        "{}",
        e.message
    );

    let mut r = create_req("f2", zip.clone());
    r.runtime = Some(m::Runtime::from("python2.7"));
    let e = l.create_function(&ctx(), r).await.unwrap_err();
    assert!(e
        .message
        .starts_with("The runtime parameter of python2.7 is no longer supported"));

    let mut r = create_req("f2", zip);
    r.layers = Some(vec![
        "arn:aws:lambda:us-east-1:000000000000:layer:nope:1".into()
    ]);
    let e = l.create_function(&ctx(), r).await.unwrap_err();
    assert_eq!(
        e.message,
        "Layer version arn:aws:lambda:us-east-1:000000000000:layer:nope:1 does not exist."
    );
}

#[tokio::test]
async fn layers_policies_urls_configs() {
    let f = fixture().await;
    let l = &f.lambda;
    let layer_zip = zip_of(&[("python/lib.py", "X = 1\n")]);
    let lv = l
        .publish_layer_version(
            &ctx(),
            m::PublishLayerVersionRequest {
                layer_name: "lib".into(),
                content: m::LayerVersionContentInput {
                    zip_file: Some(layer_zip.clone()),
                    ..Default::default()
                },
                compatible_runtimes: Some(vec![m::Runtime::from("python3.12")]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(lv.version, Some(1));
    let lv_arn = lv.layer_version_arn.unwrap();
    assert_eq!(lv_arn, "arn:aws:lambda:us-east-1:000000000000:layer:lib:1");
    let mut r = create_req("f3", zip_of(&[("index.py", "y")]));
    r.layers = Some(vec![lv_arn.clone()]);
    let c = l.create_function(&ctx(), r).await.unwrap();
    assert_eq!(c.layers.unwrap()[0].arn.as_deref(), Some(lv_arn.as_str()));
    // Deleting the layer version keeps the function working (its copy stays referenced).
    l.delete_layer_version(
        &ctx(),
        m::DeleteLayerVersionRequest {
            layer_name: "lib".into(),
            version_number: 1,
        },
    )
    .await
    .unwrap();
    let e = l
        .get_layer_version(
            &ctx(),
            m::GetLayerVersionRequest {
                layer_name: "lib".into(),
                version_number: 1,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, "ResourceNotFoundException");
    // Version numbers are never reused.
    let lv2 = l
        .publish_layer_version(
            &ctx(),
            m::PublishLayerVersionRequest {
                layer_name: "lib".into(),
                content: m::LayerVersionContentInput {
                    zip_file: Some(layer_zip),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(lv2.version, Some(2));

    // Permissions.
    let st = l
        .add_permission(
            &ctx(),
            m::AddPermissionRequest {
                function_name: "f3".into(),
                statement_id: "s3".into(),
                action: "lambda:InvokeFunction".into(),
                principal: "s3.amazonaws.com".into(),
                source_arn: Some("arn:aws:s3:::b".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let raw = st.statement.unwrap();
    // AWS's member order.
    assert!(raw.starts_with(r#"{"Sid":"s3","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"#), "{raw}");
    let st: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(st["Principal"]["Service"], "s3.amazonaws.com");
    assert_eq!(
        st["Condition"]["ArnLike"]["AWS:SourceArn"],
        "arn:aws:s3:::b"
    );
    let dup = l
        .add_permission(
            &ctx(),
            m::AddPermissionRequest {
                function_name: "f3".into(),
                statement_id: "s3".into(),
                action: "lambda:InvokeFunction".into(),
                principal: "*".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(dup.code, "ResourceConflictException");
    let pol = l
        .get_policy(
            &ctx(),
            m::GetPolicyRequest {
                function_name: "f3".into(),
                qualifier: None,
            },
        )
        .await
        .unwrap();
    let raw = pol.policy.unwrap();
    assert!(raw.starts_with(r#"{"Version":"2012-10-17","Id":"default","Statement":[{"Sid":"s3""#));
    let doc: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(doc["Statement"][0]["Sid"], "s3");
    l.remove_permission(
        &ctx(),
        m::RemovePermissionRequest {
            function_name: "f3".into(),
            statement_id: "s3".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let e = l
        .get_policy(
            &ctx(),
            m::GetPolicyRequest {
                function_name: "f3".into(),
                qualifier: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, "ResourceNotFoundException");

    // URL config.
    let u = l
        .create_function_url_config(
            &ctx(),
            m::CreateFunctionUrlConfigRequest {
                function_name: "f3".into(),
                auth_type: m::FunctionUrlAuthType::from("NONE"),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(u
        .function_url
        .starts_with("http://127.0.0.1:4566/_nimbus/lambda-url/"));
    let e = l
        .create_function_url_config(
            &ctx(),
            m::CreateFunctionUrlConfigRequest {
                function_name: "f3".into(),
                auth_type: m::FunctionUrlAuthType::from("NONE"),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, "ResourceConflictException");

    // Event invoke config: put, update merges, get, list, delete.
    l.put_function_event_invoke_config(
        &ctx(),
        m::PutFunctionEventInvokeConfigRequest {
            function_name: "f3".into(),
            maximum_retry_attempts: Some(1),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let up = l
        .update_function_event_invoke_config(
            &ctx(),
            m::UpdateFunctionEventInvokeConfigRequest {
                function_name: "f3".into(),
                maximum_event_age_in_seconds: Some(120),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(up.maximum_retry_attempts, Some(1));
    assert_eq!(up.maximum_event_age_in_seconds, Some(120));
    assert_eq!(
        up.function_arn.as_deref(),
        Some("arn:aws:lambda:us-east-1:000000000000:function:f3:$LATEST")
    );
    l.delete_function_event_invoke_config(
        &ctx(),
        m::DeleteFunctionEventInvokeConfigRequest {
            function_name: "f3".into(),
            qualifier: None,
        },
    )
    .await
    .unwrap();
    let e = l
        .get_function_event_invoke_config(
            &ctx(),
            m::GetFunctionEventInvokeConfigRequest {
                function_name: "f3".into(),
                qualifier: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        "The function arn:aws:lambda:us-east-1:000000000000:function:f3:$LATEST doesn't have an EventInvokeConfig"
    );

    // Concurrency and account settings.
    l.put_function_concurrency(
        &ctx(),
        m::PutFunctionConcurrencyRequest {
            function_name: "f3".into(),
            reserved_concurrent_executions: 10,
        },
    )
    .await
    .unwrap();
    let e = l
        .put_function_concurrency(
            &ctx(),
            m::PutFunctionConcurrencyRequest {
                function_name: "f3".into(),
                reserved_concurrent_executions: 901,
            },
        )
        .await
        .unwrap_err();
    assert!(e.message.contains("minimum value of [100]"));
    let s = l
        .get_account_settings(&ctx(), m::GetAccountSettingsRequest::default())
        .await
        .unwrap();
    assert_eq!(
        s.account_limit.unwrap().unreserved_concurrent_executions,
        Some(990)
    );
    assert_eq!(s.account_usage.unwrap().function_count, Some(1));

    // Pagination of ListFunctions.
    for i in 0..5 {
        l.create_function(
            &ctx(),
            create_req(&format!("p{i}"), zip_of(&[("index.py", "z")])),
        )
        .await
        .unwrap();
    }
    let mut seen = Vec::new();
    let mut marker = None;
    loop {
        let page = l
            .list_functions(
                &ctx(),
                m::ListFunctionsRequest {
                    marker: marker.clone(),
                    max_items: Some(2),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        seen.extend(
            page.functions
                .unwrap()
                .into_iter()
                .map(|f| f.function_name.unwrap()),
        );
        marker = page.next_marker;
        if marker.is_none() {
            break;
        }
    }
    assert_eq!(seen, vec!["f3", "p0", "p1", "p2", "p3", "p4"]);
}

/// The async queue with an engine whose every run fails (the sandbox helper is
/// `/bin/false`): attempts, backoff on the service clock, RetriesExhausted and the
/// on-failure destination record queued for the destination function.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_retries_backoff_and_failure_destination() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let f = fixture().await;
    let l = &f.lambda;
    let zip = zip_of(&[("index.py", "x")]);
    l.create_function(&ctx(), create_req("src", zip.clone()))
        .await
        .unwrap();
    l.create_function(&ctx(), create_req("dst", zip))
        .await
        .unwrap();
    l.put_function_event_invoke_config(
        &ctx(),
        m::PutFunctionEventInvokeConfigRequest {
            function_name: "src".into(),
            maximum_retry_attempts: Some(2),
            destination_config: Some(m::DestinationConfig {
                on_failure: Some(m::OnFailure {
                    destination: Some("arn:aws:lambda:us-east-1:000000000000:function:dst".into()),
                }),
                on_success: None,
            }),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let r = LambdaApi::invoke(
        l,
        &ctx(),
        m::InvocationRequest {
            function_name: "src".into(),
            invocation_type: Some(m::InvocationType::from("Event")),
            payload: Some(br#"{"job":42}"#.to_vec()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(r.status_code, Some(202));
    let src_events = |l: &Lambda| {
        l.queued_events(100)
            .into_iter()
            .filter(|(_, e)| e.function == "src")
            .collect::<Vec<_>>()
    };
    assert_eq!(src_events(l).len(), 1);
    // Each function-error attempt is retried base × 2^(n-1) later on the service clock.
    // (With `/bin/false` as the helper a start can also fail before the function runs:
    // such system errors are retried without counting as attempts, as AWS does.)
    let mut seen = (0u32, 0u32);
    let mut function_error_delays = Vec::new();
    let mut rounds = 0;
    let dest = 'outer: loop {
        rounds += 1;
        assert!(rounds < 20, "too many rounds");
        assert_eq!(l.dispatch_due().await.unwrap(), 1, "an event is due");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if let Some((_, d)) = l
                .queued_events(100)
                .into_iter()
                .find(|(_, e)| e.function == "dst")
            {
                assert!(src_events(l).is_empty());
                break 'outer d;
            }
            let evs = src_events(l);
            if let Some((due, ev)) = evs
                .into_iter()
                .find(|(_, e)| (e.attempts, e.throttles) != seen)
            {
                let now = f.clock.now_millis();
                // Still leased (in flight): keep waiting.
                if due - now <= 60_000 {
                    if ev.attempts != seen.0 {
                        function_error_delays.push(due - now);
                    }
                    seen = (ev.attempts, ev.throttles);
                    assert_eq!(l.dispatch_due().await.unwrap(), 0, "not due yet");
                    f.clock.advance_millis(due - now);
                    continue 'outer;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no progress: {:?}",
                l.queued_events(100)
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    assert_eq!(function_error_delays, vec![100, 200], "AWS-style backoff");
    use base64::Engine as _;
    let rec: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(&dest.payload_b64)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(rec["version"], "1.0");
    assert_eq!(rec["requestContext"]["condition"], "RetriesExhausted");
    assert_eq!(rec["requestContext"]["approximateInvokeCount"], 3);
    assert_eq!(
        rec["requestContext"]["functionArn"],
        "arn:aws:lambda:us-east-1:000000000000:function:src:$LATEST"
    );
    assert_eq!(rec["requestPayload"], serde_json::json!({"job": 42}));
    assert_eq!(rec["responseContext"]["functionError"], "Unhandled");
    assert_eq!(rec["responseContext"]["executedVersion"], "$LATEST");
    assert_eq!(rec["responsePayload"]["errorType"], "Runtime.ExitError");
}
