//! `NIMBUS_SANDBOX=off` (the degraded mode): no namespaces and no cgroup, but the
//! helper still proxies the Runtime API, on a free loopback port, rewrites the
//! sandbox paths to the host's, and kill() still reaches every process.
//!
//! One test function: the switch is a process-wide environment variable.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sandbox_common;

use std::path::Path;
use std::time::{Duration, Instant};

use nimbus_functions::sandbox::{launch, protections};
use sandbox_common::*;
use tokio::io::AsyncBufReadExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn degraded_mode_runs_unconfined_with_proxy() {
    std::env::set_var("NIMBUS_SANDBOX", "off");
    let fx = Fixture::new();

    // The runtime API is reachable at the address the helper put in the environment,
    // which is not 9001 (no network namespace to own it).
    let spec = fx.spec(
        "api",
        r#"echo "api=$AWS_LAMBDA_RUNTIME_API"; echo "endpoint=$AWS_ENDPOINT_URL"
           host=${AWS_LAMBDA_RUNTIME_API%:*}; port=${AWS_LAMBDA_RUNTIME_API#*:}
           exec 3<>/dev/tcp/$host/$port
           printf 'GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n' >&3
           cat <&3; echo; echo "task=$LAMBDA_TASK_ROOT pwd=$(pwd)"; echo "pid=$$"
           echo "tmp=$TMPDIR""#,
    );
    let out = run(&spec).await;
    assert_eq!(out.exit.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(!out.exit.oom_killed);
    assert!(
        out.stdout.contains("hello-from-runtime-api"),
        "{}",
        out.stdout
    );
    let api = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("api="))
        .unwrap();
    assert!(api.starts_with("127.0.0.1:"), "{api}");
    assert_ne!(api, "127.0.0.1:9001");
    assert!(
        out.stdout.contains("endpoint=http://127.0.0.1:4566"),
        "{}",
        out.stdout
    );
    // /var/task does not exist on the host: LAMBDA_TASK_ROOT and the cwd are the code dir.
    let code = fx.code_dir.display().to_string();
    assert!(
        out.stdout.contains(&format!("task={code} pwd={code}")),
        "{}",
        out.stdout
    );
    // No pid namespace: the program is an ordinary host process.
    let pid: i32 = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("pid="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(pid > 2, "pid {pid}");
    // No cgroup: no memory figure.
    assert_eq!(out.max_memory, None);
    // The private TMPDIR lives in the scratch dir, removed with the environment.
    assert!(out
        .stdout
        .contains(&format!("tmp={}", spec.scratch_dir.join("tmp").display())));
    assert!(!spec.scratch_dir.exists(), "scratch dir left behind");

    // Exit codes are forwarded.
    let out = run(&fx.spec("exit", "exit 7")).await;
    assert_eq!(out.exit.code, Some(7));
    assert_eq!(out.exit.signal, None);

    // A program that cannot start: exit 127, the reason on stderr.
    let mut spec = fx.spec("noexec", "");
    spec.argv = vec!["/nonexistent/bootstrap".into()];
    let child = launch(Path::new(HELPER), &spec).unwrap();
    let out = collect(child).await;
    assert_eq!(out.exit.code, Some(127), "{:?} {}", out.exit, out.stderr);
    assert!(out.stderr.contains("nonexistent"), "{}", out.stderr);

    // kill() takes the whole process group, background children included.
    let marker = format!("sbxoff-{}", uuid::Uuid::new_v4().simple());
    let script = format!(
        "(exec -a {marker} sleep 300) & (exec -a {marker} sleep 300) & echo ready; exec -a {marker} sleep 300"
    );
    let mut child = launch(Path::new(HELPER), &fx.spec("kill", &script)).unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("ready"));
    let deadline = Instant::now() + Duration::from_secs(5);
    while host_sleepers_with(&marker).len() != 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(host_sleepers_with(&marker).len(), 3);
    child.kill();
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap();
    assert_eq!(exit.signal, Some(9), "{exit:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !host_pids_with(&marker).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(host_pids_with(&marker), Vec::<i32>::new());

    // protections() says so, loudly.
    let p = protections();
    assert_eq!(p.mode, "off");
    assert!(!p.namespaces && !p.memory_limit);
    assert!(p.warnings.iter().any(|w| w.contains("NIMBUS_SANDBOX=off")));

    // Latency of the helper alone (launch to the program's first output line).
    let mut best = Duration::MAX;
    for i in 0..5 {
        let t = Instant::now();
        let mut spec = fx.spec(&format!("lat{i}"), "");
        spec.argv = vec!["/bin/echo".into(), "hi".into()];
        let mut child = launch(Path::new(HELPER), &spec).unwrap();
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("hi"));
        best = best.min(t.elapsed());
        child.wait().await;
    }
    eprintln!("degraded launch -> first output: best {best:?}");
}
