//! `dictamesh bench`: load-tests the router on the graphql-gateways-benchmark workload
//! and prints requests per second, p50/p99 latency, the router's peak RSS, and plan
//! times.
//!
//! By default it serves the workload's four subgraphs (built with the kit) in this
//! process, composes them and starts `dictamesh router` as a child process. With
//! `--supergraph` it uses an existing supergraph whose subgraphs are already running
//! (such as the benchmark repository's own). With `--hive-router` it also runs Hive
//! Router on the same supergraph in the same run, for a side-by-side comparison. Load
//! comes from `wrk` (Debian package `wrk`).

use std::net::SocketAddr;
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use anyhow::Context;
use anyhow::bail;
use dictamesh_router::compose::SubgraphInput;
use dictamesh_router::plan::PlanCacheKey;
use dictamesh_router::plan::QueryPlanner;
use dictamesh_router::supergraph::Supergraph;

/// Arguments of `dictamesh bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// Seconds of load per router.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 50)]
    connections: u32,
    /// wrk threads.
    #[arg(long, default_value_t = 2)]
    threads: u32,
    /// Use this supergraph (its subgraphs must be running) instead of the kit-built
    /// workload.
    #[arg(long)]
    supergraph: Option<PathBuf>,
    /// The operation to send (default: the benchmark's query).
    #[arg(long)]
    query_file: Option<PathBuf>,
    /// Also benchmark this Hive Router binary on the same supergraph.
    #[arg(long)]
    hive_router: Option<PathBuf>,
    /// Whether the router records OpenTelemetry spans, as `DICTAMESH_TRACING` says:
    /// `auto` (the default) only when they are exported, which the benchmark does not
    /// configure; `on` to measure their cost. Metrics are always recorded.
    #[arg(long, default_value = "auto", value_parser = ["auto", "on", "off"])]
    router_tracing: String,
    /// Turn on inbound request de-duplication in both routers
    /// (`traffic_shaping.router.dedupe`), as the benchmark repository configures
    /// Hive Router: identical queries in flight share one execution.
    #[arg(long)]
    dedupe: bool,
    /// Pin the load generator to CPU 0 and each router to the other CPUs, as the
    /// benchmark repository's `test.sh` does, so the routers do not share a CPU
    /// with the load (subgraphs stay unpinned, as there). Needs `taskset`.
    #[arg(long)]
    pin: bool,
    /// Only serve the kit-built workload's subgraphs, print the path of their
    /// supergraph and wait (to load or profile a router started by hand).
    #[arg(long, conflicts_with_all = ["supergraph", "hive_router"])]
    serve_only: bool,
}

/// Inbound request de-duplication on, in the key both routers read.
const DEDUPE_CONFIG: &str = "traffic_shaping:\n  router:\n    dedupe:\n      enabled: true\n";

/// One router's figures.
struct Figures {
    name: String,
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    peak_rss_mib: f64,
}

/// The benchmark's query for a supergraph whose `topProducts` takes `first` (the
/// original workload) rather than the kit's `limit`.
fn original_query() -> String {
    dictamesh_bench_subgraphs::BENCHMARK_QUERY.replace("topProducts(limit: 5)", "topProducts")
}

/// Runs the benchmark.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let work_dir = std::env::temp_dir().join(format!("dictamesh-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work_dir).context("cannot create a work directory")?;
    let (supergraph_path, query) = match &args.supergraph {
        Some(path) => (path.clone(), original_query()),
        None => {
            let sdl = serve_kit_workload().await?;
            let path = work_dir.join("supergraph.graphql");
            std::fs::write(&path, sdl).context("cannot write the supergraph")?;
            if args.serve_only {
                println!("supergraph: {}", path.display());
                std::future::pending::<()>().await;
            }
            (path, dictamesh_bench_subgraphs::BENCHMARK_QUERY.to_string())
        }
    };
    let query = match &args.query_file {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
        }
        None => query,
    };
    let body = serde_json::json!({ "query": query }).to_string();
    let script = work_dir.join("post.lua");
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = [==[{body}]==]\n"
        ),
    )
    .context("cannot write the wrk script")?;

    let router_cpus = args.pin.then(router_cpus).transpose()?;
    let mut results = Vec::new();
    let dictamesh = std::env::current_exe().context("cannot find the dictamesh binary")?;
    let port = free_port()?;
    let mut command = pinned(router_cpus.as_deref(), &dictamesh);
    command
        .arg("router")
        .arg("--supergraph")
        .arg(&supergraph_path)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .env("DICTAMESH_LOG", "error")
        .env("DICTAMESH_TRACING", &args.router_tracing);
    if args.dedupe {
        let config = work_dir.join("dictamesh-router.yaml");
        std::fs::write(&config, DEDUPE_CONFIG).context("cannot write the router's configuration")?;
        command.arg("--config").arg(&config);
    }
    let load_cpus = router_cpus.as_ref().map(|_| LOAD_CPU);
    results.push(measure("dictamesh", command, port, &body, &script, load_cpus, &args).await?);

    if let Some(hive) = &args.hive_router {
        let port = free_port()?;
        let config = work_dir.join("router.config.yaml");
        std::fs::write(
            &config,
            format!(
                "supergraph:\n  source: file\n  path: {}\nhttp:\n  host: 127.0.0.1\n  port: {port}\nlog:\n  level: error\n{}",
                supergraph_path.display(),
                if args.dedupe { DEDUPE_CONFIG } else { "" }
            ),
        )
        .context("cannot write Hive Router's configuration")?;
        let mut command = pinned(router_cpus.as_deref(), hive);
        command
            .current_dir(&work_dir)
            .env("ROUTER_CONFIG_FILE_PATH", &config)
            .env("SUPERGRAPH_FILE_PATH", &supergraph_path)
            .env("HIVE__SUPERGRAPH__SOURCE", "file")
            .env("HIVE__SUPERGRAPH__PATH", &supergraph_path)
            .env("PORT", port.to_string())
            .env("HOST", "127.0.0.1")
            .env("LOG_LEVEL", "error");
        results.push(measure("hive-router", command, port, &body, &script, load_cpus, &args).await?);
    }
    let pinned_note = match &router_cpus {
        Some(cpus) => format!(", wrk on CPU {LOAD_CPU}, routers on CPUs {cpus}"),
        None => String::new(),
    };

    println!();
    println!(
        "workload: graphql-gateways-benchmark query, {} connections, {}s per router, inbound de-duplication {}{pinned_note}",
        args.connections,
        args.duration,
        if args.dedupe { "on" } else { "off" }
    );
    println!(
        "{:<12} {:>10} {:>10} {:>10} {:>14}",
        "router", "RPS", "p50 ms", "p99 ms", "peak RSS MiB"
    );
    for figures in &results {
        println!(
            "{:<12} {:>10.0} {:>10.2} {:>10.2} {:>14.1}",
            figures.name, figures.requests_per_second, figures.p50_ms, figures.p99_ms, figures.peak_rss_mib
        );
    }
    if let [ours, hive] = results.as_slice() {
        println!(
            "RPS ratio dictamesh / hive-router: {:.2}",
            ours.requests_per_second / hive.requests_per_second
        );
    }
    print_plan_times(&supergraph_path, &query)?;
    let _ = std::fs::remove_dir_all(&work_dir);
    Ok(())
}

/// Serves the kit-built workload on ports the OS picks; returns the composed supergraph.
async fn serve_kit_workload() -> anyhow::Result<String> {
    let subgraphs = [
        ("accounts", dictamesh_bench_subgraphs::accounts()?),
        ("inventory", dictamesh_bench_subgraphs::inventory()?),
        ("products", dictamesh_bench_subgraphs::products()?),
        ("reviews", dictamesh_bench_subgraphs::reviews()?),
    ];
    let mut inputs = Vec::new();
    for (name, subgraph) in subgraphs {
        let sdl = subgraph.sdl().to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        tokio::spawn(dictamesh::serve(subgraph, listener, std::future::pending()));
        inputs.push(SubgraphInput {
            name: name.to_string(),
            url: format!("http://{address}/graphql"),
            sdl,
        });
    }
    let supergraph =
        dictamesh_router::compose::compose(&inputs).map_err(|failure| anyhow::anyhow!("{failure}"))?;
    Ok(supergraph.sdl)
}

/// The CPU the load generator runs on with `--pin`.
const LOAD_CPU: &str = "0";

/// The CPUs the routers run on with `--pin`: all but [`LOAD_CPU`] (the benchmark
/// repository's default split), as a `taskset` CPU list.
fn router_cpus() -> anyhow::Result<String> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    match cpus {
        0 | 1 => bail!("--pin needs at least 2 CPUs (this machine offers {cpus})"),
        2 => Ok("1".to_string()),
        _ => Ok(format!("1-{}", cpus - 1)),
    }
}

/// A command for `program`, run on `cpus` (a `taskset` CPU list) when given.
fn pinned(cpus: Option<&str>, program: &Path) -> Command {
    match cpus {
        Some(cpus) => {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(cpus).arg(program);
            command
        }
        None => Command::new(program),
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Starts a router, checks it answers the query, loads it with wrk, stops it.
async fn measure(
    name: &str,
    mut command: Command,
    port: u16,
    body: &str,
    script: &Path,
    load_cpus: Option<&str>,
    args: &BenchArgs,
) -> anyhow::Result<Figures> {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start {name}"))?;
    let result = async {
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let url = format!("http://{address}/graphql");
        let client = reqwest::Client::new();
        let mut answer = None;
        for _ in 0..200 {
            if let Ok(response) = client
                .post(&url)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
            {
                answer = Some(response.text().await.unwrap_or_default());
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let Some(answer) = answer else {
            bail!("{name} did not start on {address}");
        };
        let parsed: serde_json::Value = serde_json::from_str(&answer).unwrap_or_default();
        if parsed.get("errors").is_some() || parsed.get("data").is_none_or(|d| d.is_null()) {
            bail!(
                "{name} answered the benchmark query with errors: {}",
                &answer[..answer.len().min(500)]
            );
        }
        println!(
            "{name}: answers the query ({} bytes); loading for {}s",
            answer.len(),
            args.duration
        );
        let output = pinned(load_cpus, Path::new("wrk"))
            .arg(format!("-t{}", args.threads))
            .arg(format!("-c{}", args.connections))
            .arg(format!("-d{}s", args.duration))
            .arg("--latency")
            .arg("-s")
            .arg(script)
            .arg(&url)
            .output()
            .context("cannot run wrk (apt-get install wrk)")?;
        let text = String::from_utf8_lossy(&output.stdout).to_string();
        let peak_rss_mib = peak_rss_kib(child.id()).unwrap_or(0.0) / 1024.0;
        parse_wrk(name, &text, peak_rss_mib)
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// `VmHWM` (peak resident set) of a process, in KiB.
fn peak_rss_kib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Reads RPS and latency percentiles from wrk's `--latency` output.
fn parse_wrk(name: &str, text: &str, peak_rss_mib: f64) -> anyhow::Result<Figures> {
    let mut figures = Figures {
        name: name.to_string(),
        requests_per_second: 0.0,
        p50_ms: 0.0,
        p99_ms: 0.0,
        peak_rss_mib,
    };
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("Requests/sec:"), Some(value)) => {
                figures.requests_per_second = value.parse().unwrap_or(0.0)
            }
            (Some("50%"), Some(value)) => figures.p50_ms = milliseconds(value),
            (Some("99%"), Some(value)) => figures.p99_ms = milliseconds(value),
            _ => {}
        }
    }
    if figures.requests_per_second == 0.0 {
        bail!("could not read wrk's output:\n{text}");
    }
    if text.contains("Non-2xx") {
        eprintln!("warning: {name} answered some requests with a non-2xx status:\n{text}");
    }
    Ok(figures)
}

fn milliseconds(value: &str) -> f64 {
    let split = value
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse().unwrap_or(0.0);
    match unit {
        "us" => number / 1000.0,
        "s" => number * 1000.0,
        "m" => number * 60_000.0,
        _ => number,
    }
}

/// Prints cold (parse, validate, normalize, plan) and cached plan times for a small and
/// the large operation.
fn print_plan_times(supergraph_path: &Path, large: &str) -> anyhow::Result<()> {
    let sdl = std::fs::read_to_string(supergraph_path)?;
    let supergraph = Arc::new(Supergraph::parse(&sdl)?);
    let small = "{ users { id name } }";
    println!("{:<28} {:>12} {:>12}", "plan time", "cold µs", "cached µs");
    for (label, query) in [("small operation", small), ("benchmark operation", large)] {
        let iterations = 200;
        let started = Instant::now();
        for _ in 0..iterations {
            let planner = QueryPlanner::new(supergraph.clone(), 0);
            planner
                .plan_query(query, None, &Default::default(), &Default::default())
                .map_err(|e| anyhow::anyhow!("{label} does not plan: {e}"))?;
        }
        let cold = started.elapsed().as_secs_f64() * 1e6 / f64::from(iterations);
        let planner = QueryPlanner::new(supergraph.clone(), 16);
        let document = apollo_compiler::ExecutableDocument::parse_and_validate(
            &supergraph.api_schema,
            query,
            "q.graphql",
        )
        .map_err(|e| anyhow::anyhow!("{}", e.errors))?;
        let operation = document
            .operations
            .get(None)
            .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
        let normalized = dictamesh_router::plan::normalize_operation(
            &supergraph,
            &document,
            operation,
            &Default::default(),
        )?;
        let key = PlanCacheKey {
            query: Arc::from(query),
            operation_name: None,
            conditions: Vec::new(),
            override_labels: Vec::new(),
            authorization: Vec::new(),
        };
        planner.plan_cached(key.clone(), || Ok(normalized.clone()), &Default::default())?;
        let started = Instant::now();
        for _ in 0..10_000 {
            planner.plan_cached(key.clone(), || Ok(normalized.clone()), &Default::default())?;
        }
        let cached = started.elapsed().as_secs_f64() * 1e6 / 10_000.0;
        println!("{label:<28} {cold:>12.1} {cached:>12.3}");
    }
    Ok(())
}
