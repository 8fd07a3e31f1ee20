//! `--function-network host`: the operator gives functions the host's network (outbound
//! connections, services on the host) while every other protection stays. The Runtime
//! API is then a free loopback port on the host, still accepted by nimbus directly.
//!
//! One test function: the setting is process-wide.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sandbox_common;

use std::io::Write;

use nimbus_functions::sandbox::{network, protections, set_network, FunctionNetwork};
use sandbox_common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_network_reaches_host_services_and_keeps_the_other_protections() {
    assert!(
        std::env::var("NIMBUS_SANDBOX").is_err(),
        "this test needs the sandbox on"
    );
    set_network(FunctionNetwork::Host);
    assert_eq!(network(), FunctionNetwork::Host);
    let fx = Fixture::new();
    // A service on the host, which an isolated sandbox cannot reach (see sandbox.rs).
    let host = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = host.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = host.accept().unwrap();
        s.write_all(b"hello-from-the-host\n").unwrap();
    });
    let script = format!(
        r#"exec 4<>/dev/tcp/127.0.0.1/{port} && head -n1 <&4
           echo "api=$AWS_LAMBDA_RUNTIME_API"
           exec 3<>/dev/tcp/${{AWS_LAMBDA_RUNTIME_API%:*}}/${{AWS_LAMBDA_RUNTIME_API#*:}} || exit 9
           printf 'GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n' >&3
           cat <&3; echo
           echo "pid=$$""#
    );
    let out = run(&fx.spec("hostnet", &script)).await;
    server.join().unwrap();
    assert_eq!(out.exit.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("hello-from-the-host"), "{}", out.stdout);
    assert!(
        out.stdout.contains("hello-from-runtime-api"),
        "{}",
        out.stdout
    );
    // Not AWS's 9001: that port on the host belongs to nobody in particular.
    assert!(!out.stdout.contains("api=127.0.0.1:9001"), "{}", out.stdout);

    let p = protections();
    assert_eq!(p.source, "observed", "{p:?}");
    assert_eq!(p.network, "host", "{p:?}");
    assert!(!p.net, "{p:?}");
    assert!(
        !p.warnings.iter().any(|w| w.contains("network namespace")),
        "the operator's choice is not a missing protection: {p:?}"
    );
    if p.pid {
        // Still its own pid namespace: the runtime is PID 1 there.
        assert!(out.stdout.contains("pid=1"), "{}", out.stdout);
    }
}
