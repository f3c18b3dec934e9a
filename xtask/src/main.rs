//! Reverie's task runner: `cargo xtask run` and `cargo xtask test` install
//! what they need, build every part, and run it. Plain `std` only, so it
//! compiles in seconds on a fresh machine.

mod bench;
mod build;
mod runtime;
mod tools;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  run            build everything and serve the dashboard and API on
                 http://127.0.0.1:8787 with a local D1 seeded with a demo agent
  build          build the dashboard and the worker (no tests, no server)
  test           the whole suite: fmt, clippy, native tests, wasm builds,
                 end-to-end tests (workerd + D1 + Chromium)
  bench-scale    consolidation throughput on synthetic stores (1k..1M entries)
  bench-quality  consolidation quality on LoCoMo conversations [--data DIR]
  load-test      the service under load on loopback [SESSIONS [ENTRIES]]
                 (default 10000 sessions, a 100000-entry store)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(),
        Some("build") => build(),
        Some("test") => test(),
        Some("bench-scale") => bench::scale(&args[1..]),
        Some("bench-quality") => bench::quality(&args[1..]),
        Some("load-test") => load_test(&args[1..]),
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
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives inside the workspace").to_path_buf()
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

fn load_test(args: &[String]) -> Result<(), String> {
    build()?;
    stage("load test (workerd + D1 on loopback)", || {
        tools::run(std::process::Command::new("node").arg(root().join("tests/load.mjs")).args(args).current_dir(root()))
    })
}

fn build() -> Result<(), String> {
    tools::ensure_build_tools()?;
    let site = stage("build dashboard (web)", build::site)?;
    println!("{site}");
    stage("build worker", build::worker)
}

fn run() -> Result<(), String> {
    tools::ensure_build_tools()?;
    let site = stage("build dashboard (web)", build::site)?;
    println!("{site}");
    stage("build worker", build::worker)?;
    let state = root().join(".reverie/state");
    stage("apply D1 migrations", || runtime::migrate(&state))?;
    stage("seed demo agent", || runtime::seed_demo(&state))?;
    println!("Reverie is starting on http://127.0.0.1:8787 (Ctrl-C stops it)");
    runtime::serve(&state, 8787)
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
            "--exclude",
            "reverie-worker",
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
        tools::run(tools::cargo().args([
            "test",
            "--workspace",
            "--exclude",
            "reverie-web",
            "--exclude",
            "reverie-worker",
        ]))
    })?;
    let site = stage("build dashboard (web)", build::site)?;
    println!("{site}");
    stage("build worker", build::worker)?;
    stage("build core for WASM (node)", bench::build_core_wasm)?;
    stage("end-to-end tests (workerd + D1 + Chromium, core in WASM)", runtime::e2e)?;
    println!("cargo xtask test: all stages passed in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
