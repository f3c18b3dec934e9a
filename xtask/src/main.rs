//! Reverie's task runner: `cargo xtask run` and `cargo xtask test` install
//! what they need, build every part, and run it. Plain `std` only, so it
//! compiles in seconds on a fresh machine.

mod bench;
mod build;
#[cfg(test)]
mod layering;
mod runtime;
mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use build::Outputs;

const USAGE: &str = "\
usage: cargo xtask <command> [--verbose]

commands:
  run            build everything and serve the dashboard and API on
                 http://127.0.0.1:8787 with a local D1 seeded with a demo agent
  build          build the dashboard and the worker (no tests, no server)
  test           the whole suite: fmt, clippy, native tests, wasm builds,
                 end-to-end tests (workerd + D1 + Chromium), every API answer
                 checked against worker/openapi.json
  test --e2e FILE...
  e2e [FILE...]  build, then run only the end-to-end files whose names
                 contain FILE (e.g. `cargo xtask e2e dashboard`)
  bench-scale    consolidation throughput on synthetic stores (1k..1M entries)
  bench-quality  consolidation quality on LoCoMo conversations [--data DIR]
  bench-cost     what the model stages would send on LoCoMo against a naive
                 dream (whole store and transcripts) [--data DIR]
  bench-pairs    decisions on labelled pairs (SICK, SituatedQA, made here)
  bench-poison   memory poisoning with approval off (tests/poison corpus)
                 [--data DIR] (default ../shared/data) [--show N] (examples)
  fuzz [SECONDS] [SEED]
                 every fuzz target (transcripts, stores, configs as JSON and
                 YAML, proposals and reviews, text screens) for SECONDS
                 each (default 60) in a release build; the suite runs a
                 fixed number of inputs of each
  load-test      the service under load on loopback [SESSIONS [ENTRIES]]
  bench-folder   push and pull a memory folder with the client [FILES]
                 or [--sizes 10000,100000,1000000 [SESSIONS]]: peak memory
                 per request and 5xx answers at each store size
                 (default 10000 sessions, a 100000-entry store)

--verbose shows the output of every tool (wrangler's included), which is
otherwise kept to a log and shown only when a step fails.
";

static VERBOSE: AtomicBool = AtomicBool::new(false);

/// Whether `--verbose` was given.
pub fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--verbose" || a == "-v") {
        args.remove(i);
        VERBOSE.store(true, Ordering::Relaxed);
    }
    let result = match args.first().map(String::as_str) {
        Some("run") => run(),
        Some("build") => build(),
        Some("test") if args.get(1).is_some_and(|a| a == "--e2e") => match &args[2..] {
            [] => Err("`test --e2e` needs at least one end-to-end file name".to_string()),
            files => e2e(files),
        },
        Some("test") if args.len() > 1 => Err(format!("unknown test option `{}`", args[1])),
        Some("test") => test(),
        Some("e2e") => e2e(&args[1..]),
        Some("bench-scale") => bench::scale(&args[1..]),
        Some("bench-quality") => bench::quality(&args[1..]),
        Some("bench-cost") => bench::cost(&args[1..]),
        Some("bench-pairs") => bench::pairs(&args[1..]),
        Some("bench-poison") => bench::poison(&args[1..]),
        Some("load-test") => load_test(&args[1..]),
        Some("bench-folder") => bench_folder(&args[1..]),
        Some("fuzz") => fuzz(&args[1..]),
        Some("help" | "-h" | "--help") => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`\n\n{USAGE}")),
        None => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (the parent of this crate's directory).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

/// Runs one named stage and prints how long it took, so cold and warm
/// times can be read off any run.
pub fn stage<T>(name: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    eprintln!("==> {name}");
    let started = Instant::now();
    let out = f();
    let secs = started.elapsed().as_secs_f64();
    match &out {
        Ok(_) => eprintln!("<== {name}: ok in {secs:.1} s"),
        Err(_) => eprintln!("<== {name}: FAILED after {secs:.1} s"),
    }
    out
}

fn fuzz(args: &[String]) -> Result<(), String> {
    let secs = args.first().map_or("60", String::as_str);
    let seed = args.get(1).map_or("1", String::as_str);
    for (what, value) in [("SECONDS", secs), ("SEED", seed)] {
        if value.parse::<u64>().is_err() {
            return Err(format!("`{value}` is not a whole number of {what}"));
        }
    }
    stage(&format!("fuzz targets, {secs} s each, seed {seed}"), || {
        tools::run(
            tools::cargo()
                .args(["test", "-p", "reverie-core", "--release", "--test", "fuzz", "--"])
                .arg("--nocapture")
                .env("REVERIE_FUZZ_SECS", secs)
                .env("REVERIE_FUZZ_SEED", seed),
        )
    })
}

/// The time to push and pull a large memory folder with the client.
fn bench_folder(args: &[String]) -> Result<(), String> {
    let outputs = build_into(Outputs::e2e())?;
    stage("build the command-line client", runtime::build_cli)?;
    stage("push and pull a memory folder (workerd + D1 on loopback)", || {
        let mut node = Command::new("node");
        node.arg(root().join("tests/folder_bench.mjs")).args(args);
        tools::run(
            runtime::runtime_env(&mut node, &outputs).env("REVERIE_CLI", runtime::cli_path()),
        )
    })
}

fn load_test(args: &[String]) -> Result<(), String> {
    let outputs = build_into(Outputs::e2e())?;
    stage("load test (workerd + D1 on loopback)", || {
        tools::run(runtime::runtime_env(
            Command::new("node").arg(root().join("tests/load.mjs")).args(args),
            &outputs,
        ))
    })
}

/// Installs what the build needs, then compiles the dashboard and the
/// worker and binds both into `outputs`.
fn build_into(outputs: Outputs) -> Result<Outputs, String> {
    tools::ensure_build_tools()?;
    compile_and_bind(outputs)
}

fn compile_and_bind(outputs: Outputs) -> Result<Outputs, String> {
    stage("compile dashboard and worker (wasm32)", build::compile)?;
    // Two single-threaded optimizer runs, side by side.
    let (site, worker) = stage("bind dashboard and worker", || {
        std::thread::scope(|s| {
            let worker = s.spawn(|| build::worker(&outputs.worker));
            let site = build::site(&outputs.site);
            let worker = worker.join().map_err(|_| "binding the worker panicked".to_string())?;
            Ok((site?, worker?))
        })
    })?;
    println!("{site}\n{worker}");
    build::wrangler_config(&outputs)?;
    Ok(outputs)
}

fn build() -> Result<(), String> {
    build_into(Outputs::deploy()).map(drop)
}

fn run() -> Result<(), String> {
    let started = Instant::now();
    build_into(Outputs::deploy())?;
    let state = root().join(".reverie/state");
    stage("apply D1 migrations", || runtime::migrate(&state))?;
    stage("seed demo agent", || runtime::seed_demo(&state))?;
    runtime::serve(&state, 8787, started)
}

fn e2e(only: &[String]) -> Result<(), String> {
    tools::ensure_chromium()?;
    let outputs = build_into(Outputs::e2e())?;
    if only.iter().any(|f| f.contains("core_wasm")) || only.is_empty() {
        stage("build core for WASM (node)", build::core_wasm)?;
    }
    if runtime::e2e_needs_cli(only) {
        stage("build the command-line client", runtime::build_cli)?;
    }
    stage("end-to-end tests (workerd + D1 + Chromium)", || runtime::e2e(&outputs, only))
}

fn test() -> Result<(), String> {
    let started = Instant::now();
    tools::ensure_build_tools()?;
    tools::ensure_chromium()?;
    stage("cargo fmt --check", || tools::run(tools::cargo().args(["fmt", "--all", "--check"])))?;
    stage("clippy (native)", || {
        tools::run(tools::cargo().args([
            "clippy",
            "--workspace",
            "--exclude",
            "reverie-web",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    stage("clippy (wasm32: web, worker, core bindings)", || {
        tools::run(tools::cargo().args([
            "clippy",
            "-p",
            "reverie-web",
            "-p",
            "reverie-worker",
            "-p",
            "reverie-core",
            "--features",
            "reverie-core/wasm",
            "--target",
            "wasm32-unknown-unknown",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    stage("native tests", || {
        tools::run(tools::cargo().args(["test", "--workspace", "--exclude", "reverie-web"]))
    })?;
    // Built by the tests above (examples are), so this only runs it.
    stage("poisoning corpus with approval off: no harmful change applied", || {
        bench::poison_check()
    })?;
    let outputs = compile_and_bind(Outputs::e2e())?;
    stage("build core for WASM (node)", build::core_wasm)?;
    // Its dependencies were built by the native tests above.
    stage("build the command-line client", runtime::build_cli)?;
    stage("end-to-end tests (workerd + D1 + Chromium, core in WASM)", || {
        runtime::e2e(&outputs, &[])
    })?;
    println!("cargo xtask test: all stages passed in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
