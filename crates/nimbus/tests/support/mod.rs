//! A tiny HTTP/1.1 client and SigV4 signing for driving nimbus in tests (no client
//! library: the point is to see exactly what goes over the wire).
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use http::HeaderMap;
use nimbus_wire::sigv4::{sign_request, AmzDate, SigningCredentials, SigningParams};

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn new(method: &str, path: &str) -> Self {
        Request {
            method: method.into(),
            path: path.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }

    pub fn body(mut self, b: &[u8]) -> Self {
        self.body = b.to_vec();
        self
    }

    /// Signs like botocore: every header present plus host and x-amz-date.
    pub fn sign(
        mut self,
        addr: SocketAddr,
        akid: &str,
        secret: &str,
        service: &str,
        time: AmzDate,
    ) -> Self {
        let mut h = HeaderMap::new();
        h.insert("host", addr.to_string().parse().unwrap());
        for (k, v) in &self.headers {
            h.append(
                http::header::HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let (path, query) = self.path.split_once('?').unwrap_or((&self.path, ""));
        let params = SigningParams {
            credentials: SigningCredentials {
                access_key_id: akid,
                secret_access_key: secret,
                session_token: None,
            },
            region: "us-east-1",
            service,
            time,
            unsigned_payload: false,
        };
        sign_request(&self.method, path, query, &mut h, &self.body, &params, None).unwrap();
        self.headers = h
            .iter()
            .filter(|(k, _)| k.as_str() != "host")
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        self
    }

    pub fn to_bytes(&self, addr: SocketAddr) -> Vec<u8> {
        let mut out =
            format!("{} {} HTTP/1.1\r\nhost: {addr}\r\n", self.method, self.path).into_bytes();
        for (k, v) in &self.headers {
            out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        out.extend_from_slice(format!("content-length: {}\r\n\r\n", self.body.len()).as_bytes());
        out.extend_from_slice(&self.body);
        out
    }
}

/// Reads one response from `s`.
pub fn read_reply(s: &mut TcpStream) -> Reply {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "connection closed before the response headers");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..header_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let mut body = buf[header_end + 4..].to_vec();
    while body.len() < len {
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "connection closed mid-body");
        body.extend_from_slice(&chunk[..n]);
    }
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// One request on a fresh connection.
pub fn send(addr: SocketAddr, req: &Request) -> Reply {
    let mut s = connect(addr);
    s.write_all(&req.to_bytes(addr)).unwrap();
    read_reply(&mut s)
}

pub fn now() -> AmzDate {
    AmzDate::from_epoch_millis(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    )
}

pub fn dynamodb(target: &str, body: &str) -> Request {
    Request::new("POST", "/")
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", &format!("DynamoDB_20120810.{target}"))
        .body(body.as_bytes())
}

pub fn query(body: &str) -> Request {
    Request::new("POST", "/")
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(body.as_bytes())
}

/// Starts the nimbus binary at `bin` on a free loopback port with `data` as its data
/// directory and the environment's nimbus settings cleared; returns the process and the
/// address it reported.
pub fn spawn_on_loopback(bin: &str, data: &str) -> (Child, SocketAddr) {
    let mut child = Command::new(bin)
        .env_remove("NIMBUS_CONFIG")
        .env_remove("NIMBUS_CREDENTIALS")
        .env_remove("NIMBUS_BIND")
        .env_remove("NIMBUS_DATA_DIR")
        .env_remove("NIMBUS_IN_MEMORY")
        .env_remove("NIMBUS_SYNC")
        .env("XDG_CONFIG_HOME", "/nonexistent-nimbus-test-config")
        .env("NIMBUS_LOG", "info")
        .args(["up", "--bind", "127.0.0.1:0", "--data-dir", data])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let _ = tx.send(rest.split_whitespace().next().unwrap().to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("nimbus did not report its address")
        .parse()
        .unwrap();
    (child, addr)
}
