//! The local Cloudflare runtime (workerd through wrangler) with a local D1:
//! migrations, demo seed, serving, and the end-to-end suite that drives it.

use std::io::{Read, Write};
use std::net::TcpStream;
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

/// Worker settings passed through from the environment when set: the
/// LLM's key and options (none set means rules-only passes).
const PASSED_VARS: [&str; 9] = [
    "LLM_API_KEY",
    "ANTHROPIC_API_KEY",
    "LLM_PROVIDER",
    "LLM_BASE_URL",
    "LLM_MODEL",
    "LLM_TIMEOUT_MS",
    "LLM_MAX_RETRIES",
    "LLM_TOKEN_BUDGET",
    "LLM_GROUPS_PER_CALL",
];

/// The admin token of the local service, made once and kept in `state`'s
/// parent folder.
pub fn admin_token(state: &Path) -> Result<String, String> {
    let path = state.parent().unwrap_or(state).join("admin-token");
    if let Ok(t) = std::fs::read_to_string(&path) {
        if !t.trim().is_empty() {
            return Ok(t.trim().to_string());
        }
    }
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("cannot read /dev/urandom for a token: {e}"))?;
    let token = format!("rvr_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
    std::fs::create_dir_all(path.parent().unwrap_or(state)).map_err(|e| e.to_string())?;
    std::fs::write(&path, &token).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(token)
}

/// Serves the worker and dashboard on 127.0.0.1:`port`, fills the demo
/// agent (once) and runs its first pass, then serves until interrupted.
pub fn serve(state: &Path, port: u16) -> Result<(), String> {
    let token = admin_token(state)?;
    let mut cmd = wrangler();
    cmd.args(["dev", "--local", "--ip", "127.0.0.1", "--port", &port.to_string(), "--test-scheduled", "--persist-to"])
        .arg(state)
        .args(["--var", &format!("ADMIN_TOKEN:{token}")]);
    for name in PASSED_VARS {
        if let Some(value) = std::env::var(name).ok().filter(|v| !v.is_empty()) {
            cmd.args(["--var", &format!("{name}:{value}")]);
        }
    }
    let mut child = cmd.spawn().map_err(|e| format!("cannot start wrangler: {e}"))?;
    let base = format!("http://127.0.0.1:{port}");
    let ready = wait_until_healthy(port, &mut child);
    if let Err(e) = ready {
        let _ = child.kill();
        return Err(e);
    }
    run(Command::new("node").arg(root().join("xtask/demo.mjs")).arg(&base).arg(&token))?;
    println!("\nReverie is running: open {base} and sign in with the admin token\n\n    {token}\n");
    println!("(kept in .reverie/admin-token; Ctrl-C stops the service)");
    let status = child.wait().map_err(|e| format!("wrangler: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("wrangler dev stopped ({status})"))
    }
}

/// Polls `/api/health` until it answers 200 (two minutes at most).
fn wait_until_healthy(port: u16, child: &mut std::process::Child) -> Result<(), String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("wrangler dev exited ({status}) before it was ready"));
        }
        if health_ok(port) {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err("the service did not answer /api/health within two minutes".into());
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

fn health_ok(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let request = "GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    let mut answer = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut answer).is_ok()
        && answer.starts_with("HTTP/1.1 200")
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
