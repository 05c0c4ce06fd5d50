//! Get PAN load benchmark against real `paysecure-server` processes (issue #8).
//!
//! In one run, on the same cores:
//! 1. the limit: `openssl speed` RSA-2048 private-key operations per second
//!    with one process per core, and the same operation (RSA-OAEP decryption)
//!    through aws-lc-rs, the library the server uses, one thread per core;
//! 2. per configuration (one node on SQLite, one node on PostgreSQL, two
//!    nodes on one PostgreSQL): a closed-loop run (`concurrency` clients, each
//!    sending as soon as its last answer came) giving peak requests/s with
//!    p50/p99 latency, then an open-loop run at 80% of that peak (requests
//!    sent on a fixed schedule; latency counted from the scheduled send time,
//!    so a stalled server cannot hide its queue) giving p50/p99, and each
//!    node's peak RSS (`VmHWM`);
//! 3. `GET /healthz` on the first configuration, the HTTP-stack baseline;
//! 4. the issue #20 server target: `awsLcDecryptUs`, the CPU µs of one
//!    RSA-2048 OAEP-SHA-1 decryption through aws-lc-rs on one thread (thread
//!    CPU time, so other load on the machine does not inflate it), and per
//!    configuration `serverCpuUsPerReq` (user + system CPU of every node over
//!    the closed loop, per answered request), `rsaShare` = awsLcDecryptUs /
//!    serverCpuUsPerReq (target ≥ 0.75), and `cpuBreakdown`: the nodes
//!    sampled by `perf record` (software cpu-clock event) during the closed
//!    loop, grouped by function into rsa / database / httpTokio / kernel /
//!    libc / aesOther with each group's share and µs per request, plus the
//!    top functions; `null` with `cpuBreakdownWhyNot` when perf cannot run.
//!
//! Every Get PAN request carries a fresh single-use session id, as a real
//! client sends: one RSA-2048 OAEP decryption and one replay-record insert on
//! the server, then AES-GCM. The ids are made before timing starts (the
//! client's RSA public-key work is not the server's cost), and one answer per
//! configuration is decrypted and checked to be a Luhn-valid PAN.
//!
//! Usage (scripts/bench.sh builds and runs it):
//!   get_pan_bench <server-binary> [requests] [concurrency] [postgres-admin-url]
//!                 [--json FILE] [--latency-seconds S] [--openssl-seconds S] [--sqlite-only]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rsa::{KeySize as RsaKeySize, OaepPrivateDecryptingKey, PrivateDecryptingKey};
use paysecure_core::{KeySize, PublicKey, Session, Version};
use serde_json::{json, Value};
use sqlx::Connection;

/// Connections of the open-loop run (wrk2's `-c`): enough that the server,
/// not the client, is what queues at 80% of peak.
const OPEN_LOOP_CONNECTIONS: usize = 64;

struct Node(Child, String);

impl Node {
    /// Peak resident set size so far, in bytes (Linux `VmHWM`).
    fn peak_rss(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.0.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    }
}

/// User + system CPU seconds used so far by process `pid` (`/proc/<pid>/stat`).
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the line, in clock ticks.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Linux reports /proc times in USER_HZ, 100 per second on every
    // architecture it runs on.
    Some((utime + stime) / 100.0)
}

fn cluster_cpu(nodes: &[Node]) -> f64 {
    nodes
        .iter()
        .filter_map(|n| cpu_seconds(&n.0.id().to_string()))
        .sum()
}

/// Context switches (voluntary + involuntary) so far, summed over every
/// thread of process `pid` (`/proc/<pid>/task/*/status`). Threads that
/// ended are not counted, so sample only while the process's threads live.
fn context_switches(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    let mut total = 0;
    for t in tasks.flatten() {
        let Ok(status) = std::fs::read_to_string(t.path().join("status")) else {
            continue;
        };
        for line in status.lines() {
            if line.starts_with("voluntary_ctxt_switches:")
                || line.starts_with("nonvoluntary_ctxt_switches:")
            {
                total += line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    total
}

fn cluster_context_switches(nodes: &[Node]) -> u64 {
    nodes.iter().map(|n| context_switches(n.0.id())).sum()
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

fn start(bin: &str, data: &str, db: &str, master: &str) -> Result<Node, String> {
    let mut child = Command::new(bin)
        .args([
            "--data-dir",
            data,
            "--database-url",
            db,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db-max-connections",
            "16",
            // One key hammering one card is the benchmark's load, not abuse:
            // lift the per-credential and per-card rate limits (issue #13).
            "--credential-rate",
            "4000000000",
            "--credential-burst",
            "4000000000",
            "--card-rate",
            "4000000000",
            "--card-burst",
            "4000000000",
        ])
        .env("RUST_LOG", "warn")
        .env("PAYSECURE_MASTER_KEY", master)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {bin}: {e}"))?;
    let mut line = String::new();
    let stdout = child.stdout.take().ok_or("no stdout")?;
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| format!("no listening line: {e}"))?;
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_owned();
    if !url.starts_with("http") {
        return Err(format!("unexpected first line from the server: {line:?}"));
    }
    Ok(Node(child, url))
}

/// Latency percentiles in milliseconds.
fn percentiles(mut micros: Vec<u64>) -> (f64, f64, f64) {
    if micros.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    micros.sort_unstable();
    let at = |q: f64| {
        let i = ((micros.len() as f64 * q).ceil() as usize).clamp(1, micros.len()) - 1;
        micros[i] as f64 / 1000.0
    };
    (at(0.50), at(0.99), at(1.0))
}

struct Outcome {
    ok: usize,
    failed: usize,
    seconds: f64,
    latencies_us: Vec<u64>,
}

impl Outcome {
    fn json(&self, label: &str) -> Value {
        let (p50, p99, max) = percentiles(self.latencies_us.clone());
        json!({
            "label": label,
            "requests": self.ok + self.failed,
            "ok": self.ok,
            "failed": self.failed,
            "seconds": self.seconds,
            "rps": self.ok as f64 / self.seconds,
            "p50Ms": p50,
            "p99Ms": p99,
            "maxMs": max,
        })
    }
}

/// Closed loop: `concurrency` workers, each sending its next request as soon
/// as the previous answer arrived.
async fn closed_loop(concurrency: usize, requests: Vec<reqwest::RequestBuilder>) -> Outcome {
    let queue = Arc::new(std::sync::Mutex::new(requests));
    let start = Instant::now();
    let mut tasks = vec![];
    for _ in 0..concurrency {
        let queue = Arc::clone(&queue);
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut failed, mut lat) = (0usize, 0usize, Vec::new());
            loop {
                let next = queue.lock().ok().and_then(|mut q| q.pop());
                let Some(req) = next else { break };
                let t = Instant::now();
                let good = req
                    .send()
                    .await
                    .map(|r| r.status().is_success())
                    .unwrap_or(false);
                lat.push(t.elapsed().as_micros() as u64);
                if good {
                    ok += 1;
                } else {
                    failed += 1;
                }
            }
            (ok, failed, lat)
        }));
    }
    let mut out = Outcome {
        ok: 0,
        failed: 0,
        seconds: 0.0,
        latencies_us: vec![],
    };
    for t in tasks {
        if let Ok((ok, failed, lat)) = t.await {
            out.ok += ok;
            out.failed += failed;
            out.latencies_us.extend(lat);
        }
    }
    out.seconds = start.elapsed().as_secs_f64();
    out
}

/// Open loop at a constant rate, as wrk2 does it: request `i` is due at
/// `i / rate` seconds; `connections` workers (one keep-alive connection
/// each) take the requests in turn, send each at its due time or, when
/// behind, at once; latency runs from the due time, so a server that falls
/// behind is charged for the queue it causes (no coordinated omission).
/// Bounding the connections keeps the client's own cost per request fixed:
/// opening a connection per late request would turn overload into more load.
async fn open_loop(
    rate: f64,
    connections: usize,
    requests: Vec<reqwest::RequestBuilder>,
) -> Outcome {
    let start = tokio::time::Instant::now();
    let total = requests.len();
    let mut lanes: Vec<Vec<(usize, reqwest::RequestBuilder)>> =
        (0..connections).map(|_| Vec::new()).collect();
    for (i, req) in requests.into_iter().enumerate() {
        lanes[i % connections].push((i, req));
    }
    let tasks: Vec<_> = lanes
        .into_iter()
        .map(|lane| {
            tokio::spawn(async move {
                let mut out = (0usize, 0usize, Vec::with_capacity(lane.len()));
                for (i, req) in lane {
                    let due = start + Duration::from_secs_f64(i as f64 / rate);
                    tokio::time::sleep_until(due).await;
                    let good = req
                        .send()
                        .await
                        .map(|r| r.status().is_success())
                        .unwrap_or(false);
                    if good {
                        out.0 += 1;
                        out.2.push(due.elapsed().as_micros() as u64);
                    } else {
                        out.1 += 1;
                    }
                }
                out
            })
        })
        .collect();
    let mut out = Outcome {
        ok: 0,
        failed: 0,
        seconds: 0.0,
        latencies_us: Vec::with_capacity(total),
    };
    for t in tasks {
        match t.await {
            Ok((ok, failed, lat)) => {
                out.ok += ok;
                out.failed += failed;
                out.latencies_us.extend(lat);
            }
            Err(_) => out.failed += 1,
        }
    }
    out.seconds = start.elapsed().as_secs_f64();
    out
}

/// `openssl speed` RSA-2048 private-key operations per second, one process
/// per core (`-multi`).
fn openssl_speed(seconds: u32, cores: usize) -> Result<(f64, String), String> {
    let out = Command::new("openssl")
        .args([
            "speed",
            "-multi",
            &cores.to_string(),
            "-seconds",
            &seconds.to_string(),
            "rsa2048",
        ])
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("openssl: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    // The summary row: "rsa 2048 bits 0.000620s 0.000018s   1613.0  55123.4"
    let row = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("rsa") && l.contains("2048 bits"))
        .ok_or_else(|| format!("no rsa 2048 row in openssl speed output:\n{text}"))?;
    let numbers: Vec<f64> = row
        .split_whitespace()
        .filter(|w| !w.ends_with('s'))
        .filter_map(|w| w.parse().ok())
        .collect();
    // numbers: [2048, sign/s, verify/s]
    let sign = *numbers
        .get(1)
        .ok_or_else(|| format!("cannot read {row:?}"))?;
    let version = Command::new("openssl")
        .arg("version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    Ok((sign, version))
}

/// RSA-2048 OAEP-SHA-1 decryptions per second through aws-lc-rs (what the
/// server does per request), one thread per core.
fn aws_lc_rate(seconds: f64, threads: usize) -> Result<f64, String> {
    let private =
        PrivateDecryptingKey::generate(RsaKeySize::Rsa2048).map_err(|_| "keygen failed")?;
    let spki = AsDer::<PublicKeyX509Der>::as_der(&private.public_key())
        .map_err(|_| "spki export failed")?;
    let public = PublicKey::from_der(spki.as_ref()).map_err(|e| e.to_string())?;
    let session = Session::generate(Version::V2, KeySize::Aes256).map_err(|e| e.to_string())?;
    let id = session.session_id(&public).map_err(|e| e.to_string())?;
    let ciphertext = paysecure_core::encoding::decode(&id, "id").map_err(|e| e.to_string())?;
    let key = Arc::new(OaepPrivateDecryptingKey::new(private).map_err(|_| "not an OAEP key")?);
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (key, stop, count, ct) = (
                Arc::clone(&key),
                Arc::clone(&stop),
                Arc::clone(&count),
                ciphertext.clone(),
            );
            std::thread::spawn(move || {
                let mut out = [0u8; 256];
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if key
                        .decrypt(&aws_lc_rs::rsa::OAEP_SHA1_MGF1SHA1, &ct, &mut out, None)
                        .is_ok()
                    {
                        n += 1;
                    }
                }
                count.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    Ok(count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}

/// CPU nanoseconds the calling thread has run (`/proc/thread-self/schedstat`,
/// first field: time on CPU, in ns, kept by the scheduler).
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// The cost of one RSA-2048 OAEP-SHA-1 decryption through aws-lc-rs (what the
/// server does per Get PAN), in µs of CPU on one thread: the thread's own CPU
/// time (not wall time, so other load on the machine does not inflate it)
/// over the decryptions it completed in about `seconds`.
fn aws_lc_single_thread_us(seconds: f64) -> Result<f64, String> {
    let private =
        PrivateDecryptingKey::generate(RsaKeySize::Rsa2048).map_err(|_| "keygen failed")?;
    let spki = AsDer::<PublicKeyX509Der>::as_der(&private.public_key())
        .map_err(|_| "spki export failed")?;
    let public = PublicKey::from_der(spki.as_ref()).map_err(|e| e.to_string())?;
    let session = Session::generate(Version::V2, KeySize::Aes256).map_err(|e| e.to_string())?;
    let id = session.session_id(&public).map_err(|e| e.to_string())?;
    let ct = paysecure_core::encoding::decode(&id, "id").map_err(|e| e.to_string())?;
    let key = OaepPrivateDecryptingKey::new(private).map_err(|_| "not an OAEP key")?;
    std::thread::spawn(move || {
        let mut out = [0u8; 256];
        let start = Instant::now();
        let cpu0 = thread_cpu_ns().ok_or("no /proc/thread-self/schedstat")?;
        let mut n = 0u64;
        while start.elapsed().as_secs_f64() < seconds {
            key.decrypt(&aws_lc_rs::rsa::OAEP_SHA1_MGF1SHA1, &ct, &mut out, None)
                .map_err(|_| "decrypt failed")?;
            n += 1;
        }
        let cpu = thread_cpu_ns().ok_or("no /proc/thread-self/schedstat")? - cpu0;
        Ok(cpu as f64 / 1000.0 / n.max(1) as f64)
    })
    .join()
    .map_err(|_| "decrypt thread panicked".to_owned())?
}

/// A `perf record` of the server processes (software `cpu-clock` event, so
/// it works where hardware counters do not; user and kernel samples).
struct Profile {
    child: Child,
    path: std::path::PathBuf,
}

/// Starts sampling `pids` at 999 Hz, or says why it cannot.
fn perf_start(pids: &[u32], dir: &std::path::Path) -> Result<Profile, String> {
    let path = dir.join("perf.data");
    let list = pids
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let mut child = Command::new("perf")
        .args(["record", "-e", "cpu-clock", "-F", "999", "-q", "-o"])
        .arg(&path)
        .args(["-p", &list])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run perf: {e}"))?;
    // perf attaches asynchronously; give it a moment before the load starts.
    std::thread::sleep(Duration::from_millis(300));
    if let Ok(Some(status)) = child.try_wait() {
        return Err(format!("perf record exited at once ({status})"));
    }
    Ok(Profile { child, path })
}

/// Where a sample's function belongs: the RSA private operation, the
/// database (SQLite, PostgreSQL client, sqlx), the HTTP stack and the async
/// runtime, the kernel (syscalls, network, context switches), the C library
/// (malloc, memcpy: shared by everything), or the rest (AES-GCM, the vault,
/// JSON, the service's own code).
fn cpu_group(dso: &str, sym: &str) -> &'static str {
    let s = sym.to_ascii_lowercase();
    if dso.contains("kernel") {
        "kernel"
    } else if s.contains("bn_")
        // aws-lc's x86_64 Montgomery assembly (x86_64-mont5.pl) has internal
        // labels without the `bn_` prefix: mulx4x_internal alone was 18% of
        // the server's samples, counted as "aesOther" before.
        || ["mulx4x", "mul4x", "sqrx8x", "sqr8x", "postx4x", "post4x", "power5", "powerx5", "gather5", "scatter5"]
            .iter()
            .any(|k| s.contains(k))
        || s.contains("rsa")
        || s.contains("mont")
        || s.contains("oaep")
        || s.contains("mgf1")
        || s.contains("sha1_block")
        || s.contains("extract_multiplier")
        || s.contains("constant_time")
    {
        "rsa"
    } else if s.starts_with("sqlite3")
        || s.starts_with("pcache1")
        || s.starts_with("unix")
        || s.contains("sqlx")
        || s.contains("libsqlite3")
        || s.contains("flume")
        || s.contains("crossbeam")
    {
        "database"
    } else if s.contains("hyper")
        || s.contains("axum")
        || s.contains("tower")
        || s.contains("tokio")
        || s.contains("mio::")
        || s.contains("httparse")
        || s.contains("http::")
        || s.contains("tracing")
    {
        "httpTokio"
    } else if dso.contains("libc.so") || dso.contains("ld-linux") {
        "libc"
    } else {
        "aesOther"
    }
}

/// Stops `profile` and groups its samples with [`cpu_group`]: the share of
/// server CPU each group had during the closed loop, and µs per request.
fn perf_breakdown(mut profile: Profile, us_per_req: f64) -> Result<Value, String> {
    let _ = Command::new("kill")
        .args(["-INT", &profile.child.id().to_string()])
        .status();
    let _ = profile.child.wait();
    let out = Command::new("perf")
        .args(["script", "-F", "ip,sym,dso", "-i"])
        .arg(&profile.path)
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("perf script: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut counts: std::collections::BTreeMap<&'static str, u64> = Default::default();
    let mut top: std::collections::HashMap<String, u64> = Default::default();
    let mut total = 0u64;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        // "<ip> <symbol> (<dso>)"; the symbol may itself contain spaces.
        let line = line.split_once(' ').map_or(line, |(_, rest)| rest.trim());
        let (sym, dso) = match line.rsplit_once(" (") {
            Some((sym, dso)) => (sym.trim(), dso.trim_end_matches(')')),
            None => (line, ""),
        };
        let group = cpu_group(dso, sym);
        *counts.entry(group).or_default() += 1;
        *top.entry(format!("{group}: {sym}")).or_default() += 1;
        total += 1;
    }
    if total == 0 {
        return Err("perf recorded no samples".into());
    }
    let mut groups = serde_json::Map::new();
    for g in ["rsa", "database", "httpTokio", "kernel", "libc", "aesOther"] {
        let share = *counts.get(g).unwrap_or(&0) as f64 / total as f64;
        groups.insert(
            g.into(),
            json!({ "share": share, "usPerReq": share * us_per_req }),
        );
    }
    let mut top: Vec<(String, u64)> = top.into_iter().collect();
    top.sort_by_key(|t| std::cmp::Reverse(t.1));
    let top: Vec<Value> = top
        .into_iter()
        .take(15)
        .map(|(name, n)| json!({ "function": name, "share": n as f64 / total as f64 }))
        .collect();
    Ok(json!({
        "method": "perf record -e cpu-clock -F 999 of every server process during the closed loop; samples grouped by function name (self time, no call graph): rsa = aws-lc bignum/RSA/OAEP/SHA-1, database = SQLite/sqlx/PostgreSQL client, httpTokio = hyper/axum/tower/tokio/tracing, kernel = all kernel time (syscalls, network, context switches), libc = malloc/memcpy and other C library time, aesOther = everything else (AES-GCM, vault, JSON, service code)",
        "samples": total,
        "groups": Value::Object(groups),
        "topFunctions": top,
    }))
}

struct Args {
    bin: String,
    n: usize,
    concurrency: usize,
    admin: String,
    json: Option<String>,
    latency_seconds: f64,
    openssl_seconds: u32,
    sqlite_only: bool,
}

fn parse_args() -> Args {
    let mut positional = vec![];
    let mut a = Args {
        bin: "target/release/paysecure-server".into(),
        n: 4000,
        concurrency: 16,
        admin: "postgres://root@127.0.0.1:5432/postgres".into(),
        json: None,
        latency_seconds: 5.0,
        openssl_seconds: 5,
        sqlite_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--json" => a.json = it.next(),
            "--latency-seconds" => {
                a.latency_seconds = it.next().and_then(|s| s.parse().ok()).unwrap_or(5.0)
            }
            "--openssl-seconds" => {
                a.openssl_seconds = it.next().and_then(|s| s.parse().ok()).unwrap_or(5)
            }
            "--sqlite-only" => a.sqlite_only = true,
            _ => positional.push(arg),
        }
    }
    let mut p = positional.into_iter();
    if let Some(v) = p.next() {
        a.bin = v;
    }
    if let Some(v) = p.next().and_then(|s| s.parse().ok()) {
        a.n = v;
    }
    if let Some(v) = p.next().and_then(|s| s.parse().ok()) {
        a.concurrency = v;
    }
    if let Some(v) = p.next() {
        a.admin = v;
    }
    a
}

fn fresh_ids(public: &PublicKey, n: usize) -> Vec<(Session, String)> {
    (0..n)
        .map(|_| {
            let s = Session::generate(Version::V2, KeySize::Aes256).expect("session key");
            let id = s.session_id(public).expect("session id");
            (s, id)
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let master = paysecure_core::encoding::encode(&[0x42; 32]);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency.max(64))
        .build()
        .expect("client");
    let mut failed = false;

    eprintln!(
        "limit: openssl speed rsa2048 -multi {cores} ({} s) ...",
        args.openssl_seconds
    );
    let openssl = match openssl_speed(args.openssl_seconds, cores) {
        Ok((rate, version)) => {
            json!({ "privateOpsPerSecond": rate, "version": version, "processes": cores })
        }
        Err(e) => {
            eprintln!("openssl speed failed: {e}");
            failed = true;
            json!({ "error": e })
        }
    };
    eprintln!("limit: aws-lc-rs RSA-OAEP decrypt, {cores} threads ...");
    let aws_lc = match aws_lc_rate(f64::from(args.openssl_seconds).min(5.0), cores) {
        Ok(rate) => json!({ "decryptsPerSecond": rate, "threads": cores }),
        Err(e) => {
            eprintln!("aws-lc-rs rate failed: {e}");
            failed = true;
            json!({ "error": e })
        }
    };

    eprintln!("limit: aws-lc-rs RSA-OAEP decrypt, CPU µs per op on one thread ...");
    let aws_lc_us = match aws_lc_single_thread_us(f64::from(args.openssl_seconds).min(3.0)) {
        Ok(us) => us,
        Err(e) => {
            eprintln!("aws-lc-rs single-thread cost failed: {e}");
            failed = true;
            f64::NAN
        }
    };

    let mut configs = vec![];
    let mut healthz = Value::Null;
    sqlx::any::install_default_drivers();
    let all = [
        ("1 node, SQLite", false, 1usize),
        ("1 node, PostgreSQL", true, 1),
        ("2 nodes, PostgreSQL", true, 2),
    ];
    let chosen = if args.sqlite_only {
        &all[..1]
    } else {
        &all[..]
    };
    for &(name, postgres, nodes) in chosen {
        let dir = tempfile::tempdir().expect("temp dir");
        let pg_name = format!("paysecure_bench_{}", std::process::id());
        let db = if postgres {
            let mut c = sqlx::AnyConnection::connect(&args.admin)
                .await
                .expect("PostgreSQL");
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)"))
                .execute(&mut c)
                .await;
            sqlx::query(&format!("CREATE DATABASE {pg_name}"))
                .execute(&mut c)
                .await
                .expect("create database");
            format!(
                "{}/{pg_name}",
                args.admin
                    .rsplit_once('/')
                    .map_or(args.admin.as_str(), |(b, _)| b)
            )
        } else {
            format!("sqlite://{}/paysecure.db?mode=rwc", dir.path().display())
        };
        let out = Command::new(&args.bin)
            .args([
                "--data-dir",
                dir.path().to_str().unwrap_or("."),
                "--database-url",
                &db,
                "tenant",
                "create",
                "Bench",
            ])
            .env("PAYSECURE_MASTER_KEY", &master)
            .output()
            .expect("tenant create");
        let key = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .to_owned();
        let cluster: Vec<Node> = (0..nodes)
            .map(|i| {
                start(
                    &args.bin,
                    dir.path().join(format!("n{i}")).to_str().unwrap_or("."),
                    &db,
                    &master,
                )
                .expect("server node")
            })
            .collect();
        let first = cluster[0].1.clone();
        let pk: Value = http
            .get(format!("{first}/v2/public-key"))
            .send()
            .await
            .expect("pk")
            .json()
            .await
            .expect("json");
        let public = PublicKey::parse(pk["publicKey"].as_str().unwrap_or_default()).expect("key");
        let card: Value = http
            .post(format!("{first}/v2/cards"))
            .bearer_auth(&key)
            .json(&json!({}))
            .send()
            .await
            .expect("issue")
            .json()
            .await
            .expect("json");
        let token = card["token"].as_str().unwrap_or_default().to_owned();
        let url = |i: usize| format!("{}/v2/cards/{token}/pan", cluster[i % nodes].1);

        // One answer decrypted and checked before anything is timed.
        let (s, id) = fresh_ids(&public, 1).remove(0);
        let answer: Value = http
            .post(url(0))
            .bearer_auth(&key)
            .header("Session-Id", id)
            .send()
            .await
            .expect("get pan")
            .json()
            .await
            .expect("json");
        let value: paysecure_core::EncryptedValue = paysecure_core::EncryptedValue {
            data: answer["pan"]["data"].as_str().unwrap_or_default().into(),
            iv: answer["pan"]["iv"].as_str().unwrap_or_default().into(),
        };
        let pan_ok = s
            .decrypt_string(&value)
            .map(|p| {
                use secrecy::ExposeSecret;
                paysecure_core::card::luhn_check(p.expose_secret())
            })
            .unwrap_or(false);
        if !pan_ok {
            eprintln!("{name}: the Get PAN answer did not decrypt to a valid PAN");
            failed = true;
        }

        if healthz.is_null() {
            let health = (0..args.n)
                .map(|i| http.get(format!("{}/healthz", cluster[i % nodes].1)))
                .collect();
            let o = closed_loop(args.concurrency, health).await;
            failed |= o.failed > 0;
            healthz = o.json("GET /healthz, 1 node, closed loop");
        }

        eprintln!("{name}: {} session ids for the closed loop ...", args.n);
        let reqs = fresh_ids(&public, args.n)
            .into_iter()
            .enumerate()
            .map(|(i, (_, id))| http.post(url(i)).bearer_auth(&key).header("Session-Id", id))
            .collect();
        eprintln!(
            "{name}: timing the closed loop (concurrency {}) ...",
            args.concurrency
        );
        let pids: Vec<u32> = cluster.iter().map(|n| n.0.id()).collect();
        let profile = perf_start(&pids, dir.path());
        let (server_cpu0, client_cpu0) = (cluster_cpu(&cluster), cpu_seconds("self"));
        let switches0 = cluster_context_switches(&cluster);
        let peak = closed_loop(args.concurrency, reqs).await;
        let server_cpu = cluster_cpu(&cluster) - server_cpu0;
        let switches = cluster_context_switches(&cluster).saturating_sub(switches0);
        let server_us = server_cpu * 1e6 / peak.ok.max(1) as f64;
        let (breakdown, why_not) = match profile.and_then(|p| perf_breakdown(p, server_us)) {
            Ok(b) => (b, Value::Null),
            Err(e) => (Value::Null, json!(e)),
        };
        let client_cpu = cpu_seconds("self")
            .zip(client_cpu0)
            .map_or(f64::NAN, |(b, a)| b - a);
        failed |= peak.failed > 0;
        let peak_rps = peak.ok as f64 / peak.seconds;

        let rate = (peak_rps * 0.8).max(1.0);
        let count = ((rate * args.latency_seconds) as usize).max(1);
        eprintln!("{name}: {count} requests at {rate:.0}/s (80% of peak), open loop ...");
        let reqs = fresh_ids(&public, count)
            .into_iter()
            .enumerate()
            .map(|(i, (_, id))| http.post(url(i)).bearer_auth(&key).header("Session-Id", id))
            .collect();
        let at80 = open_loop(rate, OPEN_LOOP_CONNECTIONS, reqs).await;
        failed |= at80.failed > 0;

        let rss: Vec<Value> = cluster
            .iter()
            .map(|n| n.peak_rss().map_or(Value::Null, |b| json!(b)))
            .collect();
        configs.push(json!({
            "name": name,
            "nodes": nodes,
            "database": if postgres { "PostgreSQL" } else { "SQLite" },
            "answerChecked": pan_ok,
            "peak": peak.json("closed loop"),
            "serverCpuUsPerRequest": server_us,
            "serverCpuUsPerReq": server_us,
            "rsaShare": aws_lc_us / server_us,
            "serverContextSwitchesPerReq": switches as f64 / peak.ok.max(1) as f64,
            "cpuBreakdown": breakdown,
            "cpuBreakdownWhyNot": why_not,
            "clientCpuUsPerRequest": client_cpu * 1e6 / peak.ok.max(1) as f64,
            "at80": json!({ "targetRps": rate, "connections": OPEN_LOOP_CONNECTIONS, "result": at80.json("open loop at 80% of peak") }),
            "peakRssBytes": rss,
        }));
        drop(cluster);
        if postgres {
            if let Ok(mut c) = sqlx::AnyConnection::connect(&args.admin).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)"))
                    .execute(&mut c)
                    .await;
            }
        }
    }

    let result = json!({
        "requests": args.n,
        "concurrency": args.concurrency,
        "latencySeconds": args.latency_seconds,
        "cores": cores,
        "openssl": openssl,
        "awsLc": aws_lc,
        "awsLcDecryptUs": aws_lc_us,
        "healthz": healthz,
        "configs": configs,
        "failed": failed,
    });

    // Human-readable summary on stdout.
    let limit = result["openssl"]["privateOpsPerSecond"]
        .as_f64()
        .unwrap_or(f64::NAN);
    println!(
        "limit: openssl speed RSA-2048 private ops/s on {cores} cores = {limit:.0}; aws-lc-rs OAEP decrypts/s = {:.0}",
        result["awsLc"]["decryptsPerSecond"]
            .as_f64()
            .unwrap_or(f64::NAN)
    );
    println!(
        "{:<22} {:>8} {:>7} {:>8} {:>8} {:>9} {:>9} {:>9} {:>8} {:>8}",
        "Get PAN",
        "req/s",
        "vs ssl",
        "p50 ms",
        "p99 ms",
        "p50@80%",
        "p99@80%",
        "RSS MB",
        "srv µs",
        "cli µs"
    );
    for c in &configs {
        let rps = c["peak"]["rps"].as_f64().unwrap_or(f64::NAN);
        let rss = c["peakRssBytes"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_u64).max().unwrap_or(0))
            .unwrap_or(0);
        println!(
            "{:<22} {:>8.0} {:>7.3} {:>8.2} {:>8.2} {:>9.2} {:>9.2} {:>9.1} {:>8.0} {:>8.0}",
            c["name"].as_str().unwrap_or(""),
            rps,
            rps / limit,
            c["peak"]["p50Ms"].as_f64().unwrap_or(f64::NAN),
            c["peak"]["p99Ms"].as_f64().unwrap_or(f64::NAN),
            c["at80"]["result"]["p50Ms"].as_f64().unwrap_or(f64::NAN),
            c["at80"]["result"]["p99Ms"].as_f64().unwrap_or(f64::NAN),
            rss as f64 / 1e6,
            c["serverCpuUsPerRequest"].as_f64().unwrap_or(f64::NAN),
            c["clientCpuUsPerRequest"].as_f64().unwrap_or(f64::NAN),
        );
        let mut line = format!(
            "  RSA share {:.0}% (aws-lc-rs {:.0} µs/op on one thread; target ≥ 75%); {:.2} context switches/req",
            c["rsaShare"].as_f64().unwrap_or(f64::NAN) * 100.0,
            aws_lc_us,
            c["serverContextSwitchesPerReq"].as_f64().unwrap_or(f64::NAN)
        );
        if let Some(groups) = c["cpuBreakdown"]["groups"].as_object() {
            line.push_str("; perf:");
            for (g, v) in groups {
                let share = v["share"].as_f64().unwrap_or(f64::NAN) * 100.0;
                line.push_str(&format!(" {g} {share:.0}%"));
            }
        } else if let Some(why) = c["cpuBreakdownWhyNot"].as_str() {
            line.push_str(&format!("; no perf breakdown: {why}"));
        }
        println!("{line}");
    }
    println!(
        "healthz: {:.0} req/s (concurrency {}, client and servers on one machine)",
        result["healthz"]["rps"].as_f64().unwrap_or(f64::NAN),
        args.concurrency
    );
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&result).unwrap_or_default();
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("cannot write {path}: {e}");
            failed = true;
        }
    }
    if failed {
        eprintln!("some requests or checks failed");
        std::process::exit(1);
    }
}
