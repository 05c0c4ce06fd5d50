//! Get PAN throughput against a real `paysecure-server` process (release
//! build), with `/healthz` measured in the same run as the baseline.
//!
//! Every Get PAN request carries a fresh single-use session id (an RSA-2048
//! decryption on the server), made before timing starts so the client's RSA
//! work is not measured. Run with `bash scripts/bench.sh`.
//!
//! Usage: get_pan_bench <server-binary> [requests] [concurrency]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use paysecure_wasm::{KeySize, PublicKey, Session, Version};
use serde_json::Value;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bin = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "target/release/paysecure-server".into());
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(4000);
    let concurrency: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(16);
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let data = data.to_str().expect("utf-8 path");

    let out = Command::new(&bin)
        .args(["--data-dir", data, "tenant", "create", "Bench"])
        .output()
        .expect("run server binary");
    let key = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let mut child = Command::new(&bin)
        .args(["--data-dir", data, "serve", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("listening line");
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_owned();

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("client");
    let pk: Value = http
        .get(format!("{url}/v2/public-key"))
        .send()
        .await
        .expect("public key")
        .json()
        .await
        .expect("json");
    let public = PublicKey::parse(pk["publicKey"].as_str().unwrap_or_default()).expect("key");
    let card: Value = http
        .post(format!("{url}/v2/cards"))
        .bearer_auth(&key)
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("issue")
        .json()
        .await
        .expect("json");
    let token = card["token"].as_str().unwrap_or_default().to_owned();

    eprintln!("preparing {n} session ids ...");
    let ids: Vec<String> = (0..n)
        .map(|_| {
            Session::generate(Version::V2, KeySize::Aes256)
                .and_then(|s| s.session_id(&public))
                .expect("session id")
        })
        .collect();

    let run = |name: &'static str, requests: Vec<reqwest::RequestBuilder>| async move {
        let queue = Arc::new(tokio::sync::Mutex::new(requests));
        let start = Instant::now();
        let mut tasks = vec![];
        for _ in 0..concurrency {
            let queue = Arc::clone(&queue);
            tasks.push(tokio::spawn(async move {
                let mut ok = 0usize;
                loop {
                    let next = queue.lock().await.pop();
                    let Some(req) = next else { break };
                    if req
                        .send()
                        .await
                        .map(|r| r.status().is_success())
                        .unwrap_or(false)
                    {
                        ok += 1;
                    }
                }
                ok
            }));
        }
        let mut ok = 0;
        for t in tasks {
            ok += t.await.unwrap_or(0);
        }
        let secs = start.elapsed().as_secs_f64();
        (name, ok, secs)
    };

    let health: Vec<_> = (0..n).map(|_| http.get(format!("{url}/healthz"))).collect();
    let pan: Vec<_> = ids
        .iter()
        .map(|id| {
            http.post(format!("{url}/v2/cards/{token}/pan"))
                .bearer_auth(&key)
                .header("Session-Id", id)
        })
        .collect();
    let results = [
        run("GET /healthz (baseline)", health).await,
        run("POST /v2/cards/{token}/pan", pan).await,
    ];
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();

    println!(
        "{:<30} {:>8} {:>8} {:>10}",
        "endpoint", "ok", "seconds", "req/s"
    );
    for (name, ok, secs) in &results {
        println!("{name:<30} {ok:>8} {secs:>8.2} {:>10.0}", *ok as f64 / secs);
    }
    let ratio = (results[1].1 as f64 / results[1].2) / (results[0].1 as f64 / results[0].2);
    println!(
        "Get PAN / healthz throughput ratio: {ratio:.3} (concurrency {concurrency}, {} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    if results.iter().any(|r| r.1 != n) {
        eprintln!("some requests failed");
        std::process::exit(1);
    }
}
