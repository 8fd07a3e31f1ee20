//! What each request carries: an awsJson target and a body (DynamoDB), or a method and a
//! path (S3 objects, Lambda Invoke).

use bytes::Bytes;

/// A small, fast, seeded RNG (xorshift64*): key choice must not cost more than the request.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

#[derive(Debug, Clone)]
pub enum Workload {
    /// DynamoDB GetItem of a random key in `0..key_space`.
    GetItem { table: String, key_space: u64 },
    /// DynamoDB PutItem of a random key with a string attribute of `item_size` bytes.
    PutItem {
        table: String,
        key_space: u64,
        item_size: usize,
    },
    /// Any awsJson target with a fixed body (later services reuse the generator this way).
    Raw { target: String, body: Bytes },
    /// S3 GetObject of a random key in `0..key_space` (path-style `/{bucket}/{key}`).
    S3Get { bucket: String, key_space: u64 },
    /// S3 PutObject of a random key with a fixed body (its size is `--object-size`).
    S3Put {
        bucket: String,
        key_space: u64,
        body: Bytes,
    },
    /// Lambda Invoke (RequestResponse) of one function with a fixed JSON event.
    LambdaInvoke { function: String, event: Bytes },
}

/// One request of a workload: awsJson (`target` set, POST /) or REST (S3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Req {
    pub method: &'static str,
    pub path: String,
    /// `X-Amz-Target` of an awsJson request; None for REST requests.
    pub target: Option<String>,
    /// Content-Type of a REST request with a body (default `application/octet-stream`).
    pub content_type: Option<&'static str>,
    pub body: Bytes,
}

impl Req {
    pub fn json(target: String, body: Bytes) -> Req {
        Req {
            method: "POST",
            path: "/".to_string(),
            target: Some(target),
            content_type: None,
            body,
        }
    }

    /// A restJson request (the Lambda control plane): a JSON body, no target.
    pub fn rest_json(method: &'static str, path: String, body: Bytes) -> Req {
        Req {
            method,
            path,
            target: None,
            content_type: Some("application/json"),
            body,
        }
    }
}

/// Path-style object path. Bucket names and `key_name`s need no percent-encoding.
pub fn object_path(bucket: &str, key: u64) -> String {
    format!("/{bucket}/{}", key_name(key))
}

/// The Lambda Invoke path of a function name, ARN or partial ARN (`:` is allowed unencoded in
/// a path segment, as botocore sends it).
pub fn invoke_path(function: &str) -> String {
    format!("/2015-03-31/functions/{function}/invocations")
}

/// The body S3 puts (and preload) write: `size` bytes.
pub fn object_body(size: usize) -> Bytes {
    Bytes::from(vec![b'x'; size])
}

pub const DYNAMODB_PREFIX: &str = "DynamoDB_20120810";

pub fn key_name(i: u64) -> String {
    format!("k{i:010}")
}

/// JSON-escape a table name (names are `[a-zA-Z0-9_.-]+`, but be safe anyway).
fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

pub fn put_item_body(table: &str, key: u64, payload: &str) -> Bytes {
    Bytes::from(format!(
        "{{\"TableName\":{},\"Item\":{{\"pk\":{{\"S\":\"{}\"}},\"v\":{{\"S\":\"{}\"}}}}}}",
        json_str(table),
        key_name(key),
        payload
    ))
}

impl Workload {
    /// The next request.
    pub fn next(&self, rng: &mut Rng, payload: &str) -> Req {
        match self {
            Workload::GetItem { table, key_space } => {
                let key = rng.below(*key_space);
                let body = format!(
                    "{{\"TableName\":{},\"Key\":{{\"pk\":{{\"S\":\"{}\"}}}}}}",
                    json_str(table),
                    key_name(key)
                );
                Req::json(format!("{DYNAMODB_PREFIX}.GetItem"), Bytes::from(body))
            }
            Workload::PutItem {
                table, key_space, ..
            } => {
                let key = rng.below(*key_space);
                Req::json(
                    format!("{DYNAMODB_PREFIX}.PutItem"),
                    put_item_body(table, key, payload),
                )
            }
            Workload::Raw { target, body } => Req::json(target.clone(), body.clone()),
            Workload::S3Get { bucket, key_space } => Req {
                method: "GET",
                path: object_path(bucket, rng.below(*key_space)),
                target: None,
                content_type: None,
                body: Bytes::new(),
            },
            Workload::S3Put {
                bucket,
                key_space,
                body,
            } => Req {
                method: "PUT",
                path: object_path(bucket, rng.below(*key_space)),
                target: None,
                content_type: None,
                body: body.clone(),
            },
            Workload::LambdaInvoke { function, event } => Req {
                method: "POST",
                path: invoke_path(function),
                target: None,
                content_type: None,
                body: event.clone(),
            },
        }
    }

    /// True for the S3 (REST) workloads.
    pub fn is_s3(&self) -> bool {
        matches!(self, Workload::S3Get { .. } | Workload::S3Put { .. })
    }

    /// The string attribute PutItem writes (and preload uses), sized once per run.
    pub fn payload(&self, default_size: usize) -> String {
        let size = match self {
            Workload::PutItem { item_size, .. } => *item_size,
            _ => default_size,
        };
        "x".repeat(size)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn get_item_body_is_valid_json() {
        let w = Workload::GetItem {
            table: "bench".into(),
            key_space: 10,
        };
        let mut rng = Rng::new(7);
        let req = w.next(&mut rng, "");
        assert_eq!(req.target.as_deref(), Some("DynamoDB_20120810.GetItem"));
        assert_eq!((req.method, req.path.as_str()), ("POST", "/"));
        let v: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(v["TableName"], "bench");
        assert!(v["Key"]["pk"]["S"].as_str().unwrap().starts_with('k'));
    }

    #[test]
    fn put_item_body_has_payload() {
        let w = Workload::PutItem {
            table: "t".into(),
            key_space: 5,
            item_size: 3,
        };
        let payload = w.payload(0);
        let req = w.next(&mut Rng::new(1), &payload);
        let v: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(v["Item"]["v"]["S"], "xxx");
    }

    #[test]
    fn s3_requests_are_path_style_within_the_key_space() {
        let get = Workload::S3Get {
            bucket: "bench".into(),
            key_space: 3,
        };
        let put = Workload::S3Put {
            bucket: "bench".into(),
            key_space: 3,
            body: object_body(4096),
        };
        assert!(get.is_s3() && put.is_s3());
        let mut rng = Rng::new(9);
        for _ in 0..50 {
            let g = get.next(&mut rng, "");
            assert_eq!(g.method, "GET");
            assert!(g.target.is_none() && g.body.is_empty());
            assert!(
                [
                    "/bench/k0000000000",
                    "/bench/k0000000001",
                    "/bench/k0000000002"
                ]
                .contains(&g.path.as_str()),
                "{}",
                g.path
            );
            let p = put.next(&mut rng, "");
            assert_eq!(p.method, "PUT");
            assert_eq!(p.body.len(), 4096);
            assert!(p.path.starts_with("/bench/k000000000"));
        }
    }

    #[test]
    fn lambda_invoke_posts_the_event_to_the_invocations_path() {
        let w = Workload::LambdaInvoke {
            function: "bench-fn".into(),
            event: Bytes::from_static(b"{\"a\":1}"),
        };
        let req = w.next(&mut Rng::new(3), "");
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/2015-03-31/functions/bench-fn/invocations");
        assert!(req.target.is_none());
        assert_eq!(&req.body[..], b"{\"a\":1}");
    }

    #[test]
    fn rng_stays_in_range() {
        let mut r = Rng::new(0);
        for _ in 0..1000 {
            assert!(r.below(17) < 17);
        }
        assert_eq!(r.below(0), 0);
    }
}
