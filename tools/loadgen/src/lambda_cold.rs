//! Lambda cold starts: for each run, create a function, wait until it is Active, and time
//! its first Invoke (a new execution environment: sandbox, runtime start, init, handler),
//! then a second Invoke on the now-warm environment for contrast, then delete it.
//!
//! Every request is signed as an SDK signs it, on one keep-alive connection opened before
//! the timed Invoke, so the number is the server's cold path and not the TCP handshake.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use base64::Engine as _;
use bytes::Bytes;
use nimbus_wire::sigv4::SigningKeyCache;

use crate::workload::{invoke_path, Req};
use crate::{send, Client};

/// How long a created function may stay Pending before the run gives up.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(2);

/// What to create for every cold run.
#[derive(Debug, Clone)]
pub struct ColdSpec {
    /// Functions are named `{prefix}-{run}`.
    pub prefix: String,
    pub zip: Vec<u8>,
    pub runtime: String,
    pub handler: String,
    pub role: String,
    pub memory_mb: u32,
    pub runs: u32,
    pub event: Bytes,
}

/// Microseconds of each run's first (cold) and second (warm) Invoke.
#[derive(Debug, Default)]
pub struct ColdResult {
    pub cold_us: Vec<u64>,
    pub warm_us: Vec<u64>,
}

fn create_body(spec: &ColdSpec, name: &str) -> Bytes {
    let doc = serde_json::json!({
        "FunctionName": name,
        "Runtime": spec.runtime,
        "Role": spec.role,
        "Handler": spec.handler,
        "MemorySize": spec.memory_mb,
        "Timeout": 10,
        "Code": { "ZipFile": base64::engine::general_purpose::STANDARD.encode(&spec.zip) },
    });
    Bytes::from(doc.to_string())
}

/// Sends `req` on `conn`, reconnecting once if the peer closed the keep-alive connection.
async fn call(
    client: &Client,
    conn: &mut hyper::client::conn::http1::SendRequest<http_body_util::Full<Bytes>>,
    req: &Req,
    cache: &SigningKeyCache,
) -> Result<(u16, Bytes)> {
    if conn.is_closed() {
        *conn = client.connect().await?;
    }
    match send(conn, client.build(req, cache)?).await {
        Ok(r) => Ok(r),
        Err(_) => {
            *conn = client.connect().await?;
            send(conn, client.build(req, cache)?).await
        }
    }
}

/// Times one Invoke; a non-2xx answer or a function error fails the run (a cold start that
/// failed is not a fast cold start).
async fn timed_invoke(
    client: &Client,
    conn: &mut hyper::client::conn::http1::SendRequest<http_body_util::Full<Bytes>>,
    name: &str,
    event: &Bytes,
    cache: &SigningKeyCache,
) -> Result<u64> {
    let req = Req {
        method: "POST",
        path: invoke_path(name),
        target: None,
        content_type: None,
        body: event.clone(),
    };
    // Sign before the clock starts: the signature is the client's cost, not the server's.
    let built = client.build(&req, cache)?;
    if conn.is_closed() {
        *conn = client.connect().await?;
    }
    conn.ready().await?;
    let t0 = Instant::now();
    let resp = conn.send_request(built).await?;
    let status = resp.status().as_u16();
    let failed = resp.headers().contains_key("x-amz-function-error");
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await?
        .to_bytes();
    let us = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
    if !(200..300).contains(&status) || failed {
        bail!(
            "Invoke {name} answered {status}{}: {}",
            if failed { " (function error)" } else { "" },
            String::from_utf8_lossy(&body)
        );
    }
    Ok(us)
}

fn delete_req(name: &str) -> Req {
    Req {
        method: "DELETE",
        path: format!("/2015-03-31/functions/{name}"),
        target: None,
        content_type: None,
        body: Bytes::new(),
    }
}

/// CreateFunction `name` from `spec` (replacing a function of that name) and waits until
/// it is Active: the setup of a warm benchmark.
pub async fn create_function(client: &Client, spec: &ColdSpec, name: &str) -> Result<()> {
    let cache = SigningKeyCache::new(4);
    let mut conn = client.connect().await?;
    call(client, &mut conn, &delete_req(name), &cache).await?;
    create_on(client, &mut conn, spec, name, &cache).await
}

async fn create_on(
    client: &Client,
    conn: &mut hyper::client::conn::http1::SendRequest<http_body_util::Full<Bytes>>,
    spec: &ColdSpec,
    name: &str,
    cache: &SigningKeyCache,
) -> Result<()> {
    let create = Req::rest_json(
        "POST",
        "/2015-03-31/functions".to_string(),
        create_body(spec, name),
    );
    let (status, body) = call(client, conn, &create, cache).await?;
    if !(200..300).contains(&status) {
        bail!(
            "CreateFunction {name} answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    wait_active(client, conn, name, cache).await
}

/// IAM CreateRole (query protocol) with Lambda's trust policy; an existing role is fine.
/// Signed for `iam` whatever the client's own signing name is.
pub async fn create_role(client: &Client, name: &str) -> Result<String> {
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let mut form = String::from("Action=CreateRole&Version=2010-05-08&RoleName=");
    form.push_str(&form_encode(name));
    form.push_str("&AssumeRolePolicyDocument=");
    form.push_str(&form_encode(policy));
    let req = Req {
        method: "POST",
        path: "/".to_string(),
        target: None,
        content_type: Some("application/x-www-form-urlencoded; charset=utf-8"),
        body: Bytes::from(form),
    };
    let iam = client.with_service("iam");
    let cache = SigningKeyCache::new(4);
    let mut conn = iam.connect().await?;
    let (status, body) = call(&iam, &mut conn, &req, &cache).await?;
    let text = String::from_utf8_lossy(&body);
    if !(200..300).contains(&status) && !text.contains("EntityAlreadyExists") {
        bail!("CreateRole {name} answered {status}: {text}");
    }
    Ok(format!("arn:aws:iam::000000000000:role/{name}"))
}

/// application/x-www-form-urlencoded value (unreserved characters kept).
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub async fn run(client: &Client, spec: &ColdSpec) -> Result<ColdResult> {
    let cache = SigningKeyCache::new(4);
    let mut conn = client.connect().await?;
    let mut out = ColdResult::default();
    for run in 0..spec.runs {
        let name = format!("{}-{run}", spec.prefix);
        // A leftover of an interrupted earlier run would make CreateFunction conflict.
        let delete = delete_req(&name);
        call(client, &mut conn, &delete, &cache).await?;
        create_on(client, &mut conn, spec, &name, &cache).await?;
        out.cold_us
            .push(timed_invoke(client, &mut conn, &name, &spec.event, &cache).await?);
        out.warm_us
            .push(timed_invoke(client, &mut conn, &name, &spec.event, &cache).await?);
        call(client, &mut conn, &delete, &cache).await?;
    }
    Ok(out)
}

async fn wait_active(
    client: &Client,
    conn: &mut hyper::client::conn::http1::SendRequest<http_body_util::Full<Bytes>>,
    name: &str,
    cache: &SigningKeyCache,
) -> Result<()> {
    let get = Req {
        method: "GET",
        path: format!("/2015-03-31/functions/{name}/configuration"),
        target: None,
        content_type: None,
        body: Bytes::new(),
    };
    let deadline = Instant::now() + ACTIVE_TIMEOUT;
    loop {
        let (status, body) = call(client, conn, &get, cache).await?;
        let doc: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        // A peer that does not report State is taken as ready once the function exists.
        let state = doc["State"].as_str().unwrap_or("Active");
        if status == 200 && state == "Active" {
            return Ok(());
        }
        if state == "Failed" {
            bail!("function {name} failed to become Active: {doc}");
        }
        if Instant::now() > deadline {
            bail!("function {name} not Active after {ACTIVE_TIMEOUT:?} ({status}: {doc})");
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn form_values_are_percent_encoded() {
        assert_eq!(form_encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(form_encode("{\"V\": 1}"), "%7B%22V%22%3A%201%7D");
    }

    #[test]
    fn create_body_carries_the_zip_as_base64() {
        let spec = ColdSpec {
            prefix: "cold".into(),
            zip: b"PK\x03\x04".to_vec(),
            runtime: "provided.al2023".into(),
            handler: "bootstrap".into(),
            role: "arn:aws:iam::000000000000:role/r".into(),
            memory_mb: 128,
            runs: 1,
            event: Bytes::from_static(b"{}"),
        };
        let v: serde_json::Value = serde_json::from_slice(&create_body(&spec, "cold-0")).unwrap();
        assert_eq!(v["FunctionName"], "cold-0");
        assert_eq!(v["Code"]["ZipFile"], "UEsDBA==");
        assert_eq!(v["MemorySize"], 128);
    }
}
