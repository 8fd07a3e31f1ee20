//! The sandbox with every protection the host allows. Each test asserts the confined
//! behaviour when `protections()` reports the protection, and the degraded behaviour
//! explicitly when it does not (no silent skips).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sandbox_common;

use std::path::Path;
use std::time::{Duration, Instant};

use nimbus_functions::sandbox::{
    drain_warm, launch, prewarm, protections, warm_count, Protections,
};
use sandbox_common::*;
use tokio::io::AsyncBufReadExt;

/// What sandboxes actually get here: one real sandbox first, then the observed answer.
async fn observed() -> Protections {
    assert!(
        std::env::var("NIMBUS_SANDBOX").is_err(),
        "these tests need the sandbox on"
    );
    let fx = Fixture::new();
    let out = run(&fx.spec("warmup", "true")).await;
    assert_eq!(out.exit.code, Some(0), "{}", out.stderr);
    let p = protections();
    assert_eq!(p.source, "observed", "{p:?}");
    p
}

#[tokio::test]
async fn host_paths_are_hidden_and_code_is_read_only() {
    let p = observed().await;
    let fx = Fixture::new();
    // Stands for nimbus's data directory: next to the code, on the host filesystem.
    let data = fx.dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("secret"), "s").unwrap();
    let script = format!(
        r#"test -e {data} && echo data=visible || echo data=hidden
           echo "root=[$(ls -A /root 2>/dev/null | tr '\n' ' ')]"
           test -e /home && echo home=visible || echo home=hidden
           touch /var/task/new 2>/dev/null && echo task=writable || echo task=readonly
           cat /var/task/handler.txt; echo "pwd=$(pwd)"; echo "uid=$(id -u)"
           echo "host=$(hostname)"; touch /newfile 2>/dev/null && echo root=writable || echo root=readonly"#,
        data = data.display()
    );
    let out = run(&fx.spec("hidden", &script)).await;
    assert_eq!(out.exit.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("code file"), "{}", out.stdout);
    assert!(
        !fx.code_dir.join("new").exists(),
        "the sandbox wrote into the code dir"
    );
    if p.mount {
        assert!(out.stdout.contains("data=hidden"), "{}", out.stdout);
        assert!(out.stdout.contains("root=[]"), "{}", out.stdout);
        assert!(out.stdout.contains("home=hidden"), "{}", out.stdout);
        assert!(out.stdout.contains("task=readonly"), "{}", out.stdout);
        assert!(out.stdout.contains("root=readonly"), "{}", out.stdout);
        assert!(out.stdout.contains("pwd=/var/task"), "{}", out.stdout);
    } else {
        // Degraded: the host filesystem is visible and the code runs in place.
        assert!(out.stdout.contains("data=visible"), "{}", out.stdout);
        assert!(
            out.stdout
                .contains(&format!("pwd={}", fx.code_dir.display())),
            "{}",
            out.stdout
        );
    }
    if p.unprivileged_user {
        assert!(out.stdout.contains("uid=993"), "{}", out.stdout);
    }
    if p.uts {
        assert!(out.stdout.contains("host=localhost"), "{}", out.stdout);
    }
}

#[tokio::test]
async fn tmp_is_private_per_sandbox_and_sized() {
    let p = observed().await;
    let fx = Fixture::new();
    let marker = format!("m-{}", uuid::Uuid::new_v4().simple());
    // A writes its marker and stays alive while B looks.
    let a_script = format!("echo x > /tmp/{marker} && echo written; sleep 30");
    let mut a = launch(Path::new(HELPER), &fx.spec("tmpa", &a_script)).unwrap();
    let mut a_lines = tokio::io::BufReader::new(a.stdout.take().unwrap()).lines();
    assert_eq!(
        a_lines.next_line().await.unwrap().as_deref(),
        Some("written")
    );
    let b_script = format!(
        "test -e /tmp/{marker} && echo shared || echo private
         dd if=/dev/zero of=/tmp/big bs=1M count=40 2>/dev/null && echo big=ok || echo big=full"
    );
    let mut spec_b = fx.spec("tmpb", &b_script);
    spec_b.tmp_mb = 16;
    let out = run(&spec_b).await;
    a.kill();
    a.wait().await;
    if p.mount {
        assert!(out.stdout.contains("private"), "{}", out.stdout);
        // 40 MB do not fit a 16 MB /tmp.
        assert!(out.stdout.contains("big=full"), "{}", out.stdout);
    } else {
        // Degraded: /tmp is the host's, but TMPDIR is per environment.
        assert!(out.stdout.contains("shared"), "{}", out.stdout);
        let _ = std::fs::remove_file(format!("/tmp/{marker}"));
    }
}

#[tokio::test]
async fn pid_namespace_hides_host_processes() {
    let p = observed().await;
    let fx = Fixture::new();
    let out = run(&fx.spec(
        "pid",
        r#"echo "self=$$"; echo "procs=$(ls /proc | grep -E '^[0-9]+$' | tr '\n' ' ')""#,
    ))
    .await;
    assert_eq!(out.exit.code, Some(0), "{}", out.stderr);
    let self_pid: i32 = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("self="))
        .unwrap()
        .parse()
        .unwrap();
    let procs: Vec<i32> = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("procs="))
        .unwrap()
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    if p.pid && p.mount {
        assert!(self_pid <= 2, "runtime is pid {self_pid}");
        // Only the runtime and its own children: no host process.
        assert!(procs.iter().all(|p| *p < 10), "{procs:?}");
        assert!(!procs.contains(&(std::process::id() as i32)) || std::process::id() < 10);
    } else {
        assert!(self_pid > 2, "degraded mode cannot make the runtime pid 1");
        assert!(
            procs.contains(&(std::process::id() as i32)),
            "host processes visible"
        );
    }
}

#[tokio::test]
async fn memory_limit_kills_with_oom() {
    let p = observed().await;
    let fx = Fixture::new();
    // bash keeps the command substitution's 200 MB in memory: far over 64 MB.
    let mut spec = fx.spec(
        "oom",
        "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived ${#x}",
    );
    spec.memory_mb = 64;
    let out = run(&spec).await;
    if p.memory_limit {
        assert!(out.exit.oom_killed, "{:?} {}", out.exit, out.stdout);
        assert!(!out.stdout.contains("survived"), "{}", out.stdout);
        assert_eq!(out.exit.signal, Some(9), "{:?}", out.exit);
        let peak = out.max_memory.expect("peak memory");
        assert!((32 << 20..=65 << 20).contains(&peak), "peak {peak}");
    } else {
        assert!(out.stdout.contains("survived 200000000"), "{}", out.stdout);
        assert!(!out.exit.oom_killed);
        assert_eq!(out.max_memory, None);
    }
    // A modest program under the limit is fine and reports its peak.
    let out = run(&fx.spec(
        "small",
        "x=$(head -c 1000000 /dev/zero | tr '\\0' a); echo ${#x}",
    ))
    .await;
    assert_eq!(out.exit.code, Some(0));
    assert!(out.stdout.contains("1000000"));
    if p.memory_limit {
        assert!(
            out.max_memory.is_some_and(|b| b > 1_000_000),
            "{:?}",
            out.max_memory
        );
    }
}

const GET_NEXT: &str = r#"exec 3<>/dev/tcp/${AWS_LAMBDA_RUNTIME_API%:*}/${AWS_LAMBDA_RUNTIME_API#*:} || exit 9
printf 'GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n' >&3
cat <&3; echo"#;

#[tokio::test]
async fn runtime_api_and_nimbus_are_reachable_inside() {
    let p = observed().await;
    let fx = Fixture::new();
    let nimbus_sock = fx.dir.path().join("nimbus.sock");
    let _nimbus = serve_http(&nimbus_sock, "hello-from-nimbus");
    let script = format!(
        r#"echo "api=$AWS_LAMBDA_RUNTIME_API"; echo "endpoint=$AWS_ENDPOINT_URL"
        {GET_NEXT}
        u=${{AWS_ENDPOINT_URL#http://}}
        exec 4<>/dev/tcp/${{u%:*}}/${{u#*:}} || exit 8
        printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' >&4
        cat <&4; echo"#
    );
    let mut spec = fx.spec("api", &script);
    spec.nimbus_socket = Some(nimbus_sock);
    spec.nimbus_addr = "0.0.0.0:45999".parse().unwrap();
    let out = run(&spec).await;
    assert_eq!(out.exit.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("hello-from-runtime-api"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("endpoint=http://127.0.0.1:45999"),
        "{}",
        out.stdout
    );
    if p.net {
        assert!(out.stdout.contains("api=127.0.0.1:9001"), "{}", out.stdout);
        // Only through the proxy: nimbus does not listen on 45999 on the host at all.
        assert!(out.stdout.contains("hello-from-nimbus"), "{}", out.stdout);
    } else {
        assert!(!out.stdout.contains("api=127.0.0.1:9001"), "{}", out.stdout);
    }
}

#[tokio::test]
async fn network_namespace_has_no_host_network() {
    let p = observed().await;
    let fx = Fixture::new();
    // A host listener that the sandbox must not reach (127.0.0.1 is its own lo).
    let host = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = host.local_addr().unwrap().port();
    let out = run(&fx.spec(
        "net",
        &format!(
            "(exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null && echo reached || echo unreachable
             echo \"links=$(ls /sys/class/net 2>/dev/null | tr '\\n' ' ')\""
        ),
    ))
    .await;
    if p.net {
        assert!(out.stdout.contains("unreachable"), "{}", out.stdout);
    } else {
        assert!(out.stdout.contains("reached"), "{}", out.stdout);
    }
}

#[tokio::test]
async fn kill_leaves_no_process_behind() {
    let _ = observed().await;
    let fx = Fixture::new();
    let marker = format!("sbxkill-{}", uuid::Uuid::new_v4().simple());
    // Background children, a re-parented grandchild in its own session, and the runtime.
    let script = format!(
        "(exec -a {marker} sleep 300) & (setsid bash -c 'exec -a {marker} sleep 300' &) ; \
         (exec -a {marker} sleep 300) & echo ready; exec -a {marker} sleep 300"
    );
    let mut child = launch(Path::new(HELPER), &fx.spec("kill", &script)).unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("ready"));
    let deadline = Instant::now() + Duration::from_secs(5);
    while host_sleepers_with(&marker).len() != 4 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(host_sleepers_with(&marker).len(), 4);
    child.kill();
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap();
    assert_eq!(exit.signal, Some(9), "{exit:?}");
    assert_eq!(host_pids_with(&marker), Vec::<i32>::new());
}

#[tokio::test]
async fn dropping_the_child_kills_everything() {
    let _ = observed().await;
    let fx = Fixture::new();
    let marker = format!("sbxdrop-{}", uuid::Uuid::new_v4().simple());
    let script = format!(
        "(setsid bash -c 'exec -a {marker} sleep 300' &); echo ready; exec -a {marker} sleep 300"
    );
    let spec = fx.spec("drop", &script);
    let mut child = launch(Path::new(HELPER), &spec).unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("ready"));
    drop(child);
    let deadline = Instant::now() + Duration::from_secs(5);
    while (!host_pids_with(&marker).is_empty() || spec.scratch_dir.exists())
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(host_pids_with(&marker), Vec::<i32>::new());
    assert!(!spec.scratch_dir.exists());
}

#[tokio::test]
async fn exit_codes_and_signals_are_forwarded() {
    let _ = observed().await;
    let fx = Fixture::new();
    let out = run(&fx.spec("exit", "exit 42")).await;
    assert_eq!((out.exit.code, out.exit.signal), (Some(42), None));
    let out = run(&fx.spec("sig", "kill -TERM $$; sleep 5")).await;
    // As PID 1 the runtime ignores its own SIGTERM (no handler): it runs to the end.
    // Without a pid namespace, SIGTERM kills it.
    let p = protections();
    if p.pid {
        assert_eq!(out.exit.code, Some(0), "{:?}", out.exit);
    } else {
        assert_eq!(out.exit.signal, Some(15), "{:?}", out.exit);
    }
    let mut spec = fx.spec("noexec", "");
    spec.argv = vec!["/var/task/bootstrap".into()];
    let child = launch(Path::new(HELPER), &spec).unwrap();
    let out = collect(child).await;
    assert_eq!(out.exit.code, Some(127), "{:?} {}", out.exit, out.stderr);
    assert!(out.stderr.contains("/var/task/bootstrap"), "{}", out.stderr);
}

#[tokio::test]
async fn protections_report_what_this_host_allows() {
    let p = observed().await;
    eprintln!("{}", serde_json::to_string_pretty(&p).unwrap());
    if nix_is_root() {
        // This CI box is root with cgroup v1: everything must be on.
        assert!(p.namespaces, "{p:?}");
        assert!(p.cgroup.is_some() && p.memory_limit, "{p:?}");
        assert!(p.rlimits && p.unprivileged_user, "{p:?}");
        assert_eq!(p.mode, "sandbox", "{p:?}");
        assert!(p.warnings.is_empty(), "{p:?}");
    } else {
        assert_eq!(p.mode, "degraded");
        assert!(!p.warnings.is_empty());
    }
    let fx = Fixture::new();
    let out = run(&fx.spec("rlimit", "echo nofile=$(ulimit -n) core=$(ulimit -c)")).await;
    if p.rlimits {
        assert!(out.stdout.contains("nofile=1024 core=0"), "{}", out.stdout);
    }
}

/// Launch to the program's first output line, from a warm helper and from a cold one.
async fn one_launch(fx: &Fixture, name: &str) -> (Duration, Option<Duration>) {
    let mut spec = fx.spec(name, "");
    spec.argv = vec!["/bin/echo".into(), "hi".into()];
    let t = Instant::now();
    let mut child = launch(Path::new(HELPER), &spec).unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("hi"));
    let took = t.elapsed();
    let confined = child.confined_after();
    assert_eq!(child.wait().await.code, Some(0));
    (took, confined)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_latency() {
    let _ = observed().await;
    let fx = Fixture::new();
    let mut warm = Vec::new();
    for i in 0..10 {
        prewarm(Path::new(HELPER));
        let deadline = Instant::now() + Duration::from_secs(5);
        while warm_count() == 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert!(warm_count() > 0, "the warm pool never filled");
        warm.push(one_launch(&fx, &format!("warm{i}")).await);
    }
    let mut cold = Vec::new();
    for i in 0..5 {
        drain_warm();
        cold.push(one_launch(&fx, &format!("cold{i}")).await);
    }
    drain_warm();
    warm.sort();
    cold.sort();
    eprintln!("warm launch -> first output line (confined at): {warm:?}");
    eprintln!("cold launch -> first output line (confined at): {cold:?}");
    // Speed is a benchmark's business (figures in ARCHITECTURE.md), not a test's: this
    // checks that launches from a warm helper and from a cold one both work (each one
    // printed its line and exited 0 in `one_launch`).
    assert_eq!((warm.len(), cold.len()), (10, 5));
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

#[tokio::test]
async fn host_interpreter_prefix_is_visible_read_only() {
    let p = observed().await;
    let fx = Fixture::new();
    // The CI box's pyenv Pythons live under /root (mode 0700 on the host): the prefix is
    // mounted at the same path and the unprivileged runtime can still run it.
    let prefix = std::fs::read_dir("/root/.pyenv/versions")
        .ok()
        .and_then(|d| {
            d.flatten()
                .map(|e| e.path())
                .find(|p| p.join("bin/python3").exists())
        });
    let Some(prefix) = prefix else {
        // No pyenv here: use the host's own /usr python via a plain directory instead.
        let extra = fx.dir.path().join("extra");
        std::fs::create_dir_all(&extra).unwrap();
        std::fs::write(extra.join("f"), "extra-file").unwrap();
        let mut spec = fx.spec(
            "ro",
            &format!(
                "cat {0}/f; touch {0}/g 2>/dev/null && echo writable || echo readonly",
                extra.display()
            ),
        );
        spec.host_ro_paths = vec![extra.clone()];
        let out = run(&spec).await;
        assert!(out.stdout.contains("extra-file"), "{}", out.stdout);
        if p.mount {
            assert!(out.stdout.contains("readonly"), "{}", out.stdout);
        }
        return;
    };
    let python = prefix.join("bin/python3");
    let mut spec = fx.spec(
        "pyenv",
        &format!(
            "{} -c 'import os,sys; print(\"py\", sys.version_info[0], os.getuid())'; \
             touch {}/x 2>/dev/null && echo writable || echo readonly; \
             echo \"root=[$(ls -A /root | tr '\\n' ' ')]\"",
            python.display(),
            prefix.display()
        ),
    );
    spec.host_ro_paths = vec![prefix.clone()];
    let out = run(&spec).await;
    assert_eq!(out.exit.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    if p.mount {
        assert!(out.stdout.contains("readonly"), "{}", out.stdout);
        // Only the path to the prefix exists under /root.
        assert!(out.stdout.contains("root=[.pyenv ]"), "{}", out.stdout);
    }
    if p.unprivileged_user {
        assert!(out.stdout.contains("py 3 993"), "{}", out.stdout);
    } else {
        assert!(out.stdout.contains("py 3 "), "{}", out.stdout);
    }
    assert!(!prefix.join("x").exists());
}

#[tokio::test]
async fn sigterm_to_the_helper_ends_the_whole_environment() {
    let _ = observed().await;
    let fx = Fixture::new();
    let marker = format!("sbxterm-{}", uuid::Uuid::new_v4().simple());
    let script = format!(
        "(setsid bash -c 'exec -a {marker} sleep 300' &); echo ready; exec -a {marker} sleep 300"
    );
    let mut child = launch(Path::new(HELPER), &fx.spec("term", &script)).unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("ready"));
    let deadline = Instant::now() + Duration::from_secs(5);
    while host_sleepers_with(&marker).len() != 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(host_sleepers_with(&marker).len(), 2);
    std::process::Command::new("kill")
        .args(["-TERM", &child.pid().to_string()])
        .status()
        .unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap();
    // The helper stops the runtime with SIGKILL and reports it.
    assert_eq!(exit.signal, Some(9), "{exit:?}");
    assert_eq!(host_pids_with(&marker), Vec::<i32>::new());
}
