//! Get PAN throughput against real `paysecure-server` processes (release
//! build), in one run: one node on SQLite, one node on PostgreSQL, two nodes
//! on PostgreSQL (requests alternate between them). `/healthz` on the first
//! configuration is the baseline.
//!
//! Every Get PAN request carries a fresh single-use session id (an RSA-2048
//! decryption on the server, a replay-record insert), made before timing
//! starts so the client's RSA work is not measured. Run with
//! `bash scripts/bench.sh`.
//!
//! Usage: get_pan_bench <server-binary> [requests] [concurrency] [postgres-admin-url]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use paysecure_wasm::{KeySize, PublicKey, Session, Version};
use serde_json::Value;
use sqlx::Connection;

struct Node(Child, String);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

fn start(bin: &str, data: &str, db: &str, master: &str) -> Node {
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
        ])
        .env("RUST_LOG", "warn")
        .env("PAYSECURE_MASTER_KEY", master)
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
    Node(child, url)
}

async fn run(concurrency: usize, requests: Vec<reqwest::RequestBuilder>) -> (usize, f64) {
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
    (ok, start.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bin = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "target/release/paysecure-server".into());
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(4000);
    let concurrency: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(16);
    let admin = args
        .get(4)
        .cloned()
        .unwrap_or_else(|| "postgres://root@127.0.0.1:5432/postgres".into());
    let master = paysecure_wasm::encoding::encode(&[0x42; 32]);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("client");
    let mut rows = vec![];
    let mut failed = false;

    sqlx::any::install_default_drivers();
    for (name, postgres, nodes) in [
        ("1 node, SQLite", false, 1),
        ("1 node, PostgreSQL", true, 1),
        ("2 nodes, PostgreSQL", true, 2),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let pg_name = format!("paysecure_bench_{}", std::process::id());
        let db = if postgres {
            let mut c = sqlx::AnyConnection::connect(&admin)
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
                admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b)
            )
        } else {
            format!("sqlite://{}/paysecure.db?mode=rwc", dir.path().display())
        };
        let out = Command::new(&bin)
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
                    &bin,
                    dir.path().join(format!("n{i}")).to_str().unwrap_or("."),
                    &db,
                    &master,
                )
            })
            .collect();
        let first = &cluster[0].1;
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
            .json(&serde_json::json!({}))
            .send()
            .await
            .expect("issue")
            .json()
            .await
            .expect("json");
        let token = card["token"].as_str().unwrap_or_default().to_owned();
        if rows.is_empty() {
            let health = (0..n)
                .map(|i| http.get(format!("{}/healthz", cluster[i % nodes].1)))
                .collect();
            let (ok, secs) = run(concurrency, health).await;
            failed |= ok != n;
            rows.push(("GET /healthz, 1 node (baseline)".to_owned(), ok, secs));
        }
        eprintln!("{name}: preparing {n} session ids ...");
        let pan = (0..n)
            .map(|i| {
                let id = Session::generate(Version::V2, KeySize::Aes256)
                    .and_then(|s| s.session_id(&public))
                    .expect("id");
                http.post(format!("{}/v2/cards/{token}/pan", cluster[i % nodes].1))
                    .bearer_auth(&key)
                    .header("Session-Id", id)
            })
            .collect();
        let (ok, secs) = run(concurrency, pan).await;
        failed |= ok != n;
        rows.push((format!("Get PAN, {name}"), ok, secs));
        drop(cluster);
        if postgres {
            if let Ok(mut c) = sqlx::AnyConnection::connect(&admin).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)"))
                    .execute(&mut c)
                    .await;
            }
        }
    }

    let base = rows[0].1 as f64 / rows[0].2;
    println!(
        "{:<36} {:>7} {:>8} {:>9} {:>8}",
        "measurement", "ok", "seconds", "req/s", "ratio"
    );
    for (name, ok, secs) in &rows {
        let rps = *ok as f64 / secs;
        println!(
            "{name:<36} {ok:>7} {secs:>8.2} {rps:>9.0} {:>8.3}",
            rps / base
        );
    }
    println!(
        "(concurrency {concurrency}, {} cores, client and servers on one machine)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    if failed {
        eprintln!("some requests failed");
        std::process::exit(1);
    }
}
