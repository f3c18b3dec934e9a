//! The local Cloudflare runtime (workerd through wrangler) with a local D1:
//! migrations, demo seed, serving, and the end-to-end suite that drives it.

use std::path::Path;
use std::process::Command;

use crate::root;
use crate::tools::{chromium_path, npm_bin, run};

/// A wrangler command run from `worker/`, with telemetry off.
fn wrangler() -> Command {
    let mut cmd = Command::new(npm_bin("wrangler"));
    cmd.current_dir(root().join("worker")).env("WRANGLER_SEND_METRICS", "false");
    cmd
}

/// Applies `worker/migrations` to the local D1 kept under `state`.
pub fn migrate(state: &Path) -> Result<(), String> {
    run(wrangler()
        .args(["d1", "migrations", "apply", "reverie", "--local", "--persist-to"])
        .arg(state)
        .env("CI", "true"))
}

/// Inserts the demo agent unless it is already there.
pub fn seed_demo(state: &Path) -> Result<(), String> {
    run(wrangler()
        .args(["d1", "execute", "reverie", "--local", "--file", "seed/demo.sql", "--persist-to"])
        .arg(state)
        .env("CI", "true"))
}

/// Serves the worker and dashboard on 127.0.0.1:`port` until interrupted.
pub fn serve(state: &Path, port: u16) -> Result<(), String> {
    run(wrangler()
        .args(["dev", "--local", "--ip", "127.0.0.1", "--port", &port.to_string(), "--test-scheduled", "--persist-to"])
        .arg(state))
}

/// Runs every `tests/*.test.mjs` with node's test runner. Each file starts
/// its own runtime on a free loopback port with a fresh D1.
pub fn e2e() -> Result<(), String> {
    let tests = root().join("tests");
    let mut files: Vec<_> = std::fs::read_dir(&tests)
        .map_err(|e| format!("cannot list {}: {e}", tests.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".test.mjs"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err("no end-to-end tests found in tests/".into());
    }
    run(Command::new("node")
        .arg("--test")
        .arg("--test-concurrency=1")
        .args(&files)
        .current_dir(root())
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CHROMIUM_PATH", chromium_path()))
}
