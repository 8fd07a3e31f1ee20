//! `GET /_nimbus/health`: version, every service and its state, the store, the event bus,
//! the function engine (with the sandbox protections in force).

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};
use nimbus_wire::AwsResponse;
use serde_json::{json, Map, Value};

use crate::gateway::AppState;
use crate::router::ServiceId;
use crate::store::StoreState;

pub fn body(state: &AppState) -> Value {
    let mut services = Map::new();
    for s in ServiceId::ALL {
        services.insert(
            s.name().to_string(),
            Value::String(state.services.state(s).as_str().to_string()),
        );
    }
    let d = &state.store.description;
    let mut store = Map::new();
    store.insert("engine".into(), json!(d.engine));
    store.insert("sync".into(), json!(d.durability.to_string()));
    if let Some(p) = &d.path {
        store.insert("path".into(), json!(p.display().to_string()));
    }
    match state.store.current() {
        StoreState::Opening => {
            store.insert("state".into(), json!("opening"));
        }
        StoreState::Ready(db) => {
            store.insert("state".into(), json!("ready"));
            let s = db.stats();
            store.insert(
                "stats".into(),
                json!({
                    "commits": s.commits,
                    "jobs": s.jobs,
                    "jobs_failed": s.jobs_failed,
                    "max_batch_jobs": s.max_batch_jobs,
                    "queued": s.queued,
                }),
            );
        }
        StoreState::Failed(e) => {
            store.insert("state".into(), json!("failed"));
            store.insert("error".into(), json!(e));
        }
    }
    let mut body = json!({
        "version": state.version,
        "uptime_ms": state.started.elapsed().as_millis() as u64,
        "loopback": state.loopback,
        "services": services,
        "store": store,
    });
    // The event bus: appends, and per consumer delivered/retries/failures/lag.
    if let (Some(events), Some(obj)) = (state.services.bus_metrics(), body.as_object_mut()) {
        obj.insert("events".into(), events);
    }
    // Lambda's engine: environments, counters and which sandbox protections are active.
    if let (Some(functions), Some(obj)) = (state.services.functions_health(), body.as_object_mut())
    {
        obj.insert("functions".into(), functions);
    }
    body
}

pub fn response(state: &AppState) -> AwsResponse {
    let mut headers = HeaderMap::with_capacity(3);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    AwsResponse {
        status: StatusCode::OK,
        headers,
        body: Bytes::from(body(state).to_string()),
    }
}
