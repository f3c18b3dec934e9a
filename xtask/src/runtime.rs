//! The local Cloudflare runtime (workerd through wrangler) with a local D1:
//! migrations, demo seed, serving, and the end-to-end suite that drives it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

use crate::build::Outputs;
use crate::root;
use crate::tools::{chromium_path, last_lines, log_to, npm_bin, run, run_quietly};

/// A wrangler command run from `worker/`, with telemetry and update checks
/// off.
fn wrangler() -> Command {
    let mut cmd = Command::new(npm_bin("wrangler"));
    cmd.current_dir(root().join("worker"))
        .env("WRANGLER_SEND_METRICS", "false")
        .env("NO_UPDATE_NOTIFIER", "1");
    cmd
}

/// Applies `worker/migrations` to the local D1 kept under `state`.
pub fn migrate(state: &Path) -> Result<(), String> {
    run_quietly(
        wrangler()
            .args(["d1", "migrations", "apply", "reverie", "--local", "--persist-to"])
            .arg(state)
            .env("CI", "true"),
    )
}

/// Inserts the demo agent unless it is already there.
pub fn seed_demo(state: &Path) -> Result<(), String> {
    run_quietly(
        wrangler()
            .args([
                "d1",
                "execute",
                "reverie",
                "--local",
                "--file",
                "seed/demo.sql",
                "--persist-to",
            ])
            .arg(state)
            .env("CI", "true"),
    )
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
/// The runtime's own output goes to `.reverie/wrangler.log` unless
/// `--verbose`.
pub fn serve(state: &Path, port: u16, started: std::time::Instant) -> Result<(), String> {
    let token = admin_token(state)?;
    let home = state.parent().unwrap_or(state);
    let mut cmd = wrangler();
    cmd.args([
        "dev",
        "--local",
        "--ip",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--test-scheduled",
        "--persist-to",
    ])
    .arg(state)
    .args(["--show-interactive-dev-session=false", "--var", &format!("ADMIN_TOKEN:{token}")]);
    for name in PASSED_VARS {
        if let Some(value) = std::env::var(name).ok().filter(|v| !v.is_empty()) {
            cmd.args(["--var", &format!("{name}:{value}")]);
        }
    }
    let log_path = home.join("wrangler.log");
    if !crate::verbose() {
        log_to(&mut cmd, &log_path)?;
    }
    let mut child = cmd.spawn().map_err(|e| format!("cannot start wrangler: {e}"))?;
    let base = format!("http://127.0.0.1:{port}");
    let ready = crate::stage("start the local runtime", || wait_until_healthy(port, &mut child));
    if let Err(e) = ready {
        let _ = child.kill();
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        return Err(format!("{e}\n{}", last_lines(&log, 40)));
    }
    crate::stage("fill the demo agent and run its first pass", || {
        run(Command::new("node").arg(root().join("xtask/demo.mjs")).arg(&base).arg(&token))
    })?;
    let shown = |p: &Path| p.strip_prefix(root()).unwrap_or(p).display().to_string();
    println!(
        "\nReverie is running ({:.0} s after `cargo xtask run` started).\n\n  \
         Dashboard and API  {base}\n  \
         Admin token        {token}\n                     (kept in {})\n  \
         Data               {} (local D1; delete the folder to start over)\n  \
         Runtime log        {}\n  \
         Stop               Ctrl-C\n",
        started.elapsed().as_secs_f64(),
        shown(&home.join("admin-token")),
        shown(state),
        if crate::verbose() { "shown above (--verbose)".to_string() } else { shown(&log_path) },
    );
    let status = child.wait().map_err(|e| format!("wrangler: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("wrangler dev stopped ({status}); see {}", shown(&log_path)))
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

/// The end-to-end test file that drives the command-line client.
const CLI_TEST: &str = "cli.test.mjs";

/// Whether the end-to-end files selected by `only` (all when empty)
/// include the command-line client's, which needs it built first.
pub fn e2e_needs_cli(only: &[String]) -> bool {
    selected(CLI_TEST, only)
}

fn selected(name: &str, only: &[String]) -> bool {
    only.is_empty() || only.iter().any(|o| name.contains(o.as_str()))
}

/// Builds the command-line client (`reverie`, a native debug build) that
/// the end-to-end suite runs.
pub fn build_cli() -> Result<(), String> {
    run(crate::tools::cargo().args(["build", "-p", "reverie-cli", "--bin", "reverie"]))
}

/// Where `build_cli` puts the client: cargo's target folder (the one
/// `CARGO_TARGET_DIR` names, when set), `debug/reverie`.
pub fn cli_path() -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .map(|t| if t.is_absolute() { t } else { root().join(t) })
        .unwrap_or_else(|| root().join("target"));
    target.join("debug").join(format!("reverie{}", std::env::consts::EXE_SUFFIX))
}

/// Runs the end-to-end test files (every `tests/*.test.mjs` when `only`
/// is empty; otherwise those whose names contain one of `only`) with node's
/// test runner, against the build in `outputs`. Each file starts its own
/// runtime on a free loopback port with a fresh D1.
pub fn e2e(outputs: &Outputs, only: &[String]) -> Result<(), String> {
    let tests = root().join("tests");
    let mut files: Vec<_> = std::fs::read_dir(&tests)
        .map_err(|e| format!("cannot list {}: {e}", tests.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".test.mjs"))
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            selected(&name, only)
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("no end-to-end tests in tests/ match {only:?}"));
    }
    // Every JSON answer the suites get is recorded, then held against the
    // OpenAPI document.
    let log = root().join("target/e2e/responses.jsonl");
    std::fs::write(&log, "").map_err(|e| format!("cannot write {}: {e}", log.display()))?;
    run(runtime_env(
        Command::new("node").arg("--test").arg("--test-concurrency=1").args(&files),
        outputs,
    )
    .env("REVERIE_API_LOG", &log)
    .env("REVERIE_CLI", cli_path()))?;
    run(Command::new("node").arg(tests.join("openapi_check.mjs")).arg(&log).current_dir(root()))
}

/// The environment the test harness reads: which wrangler config to start
/// the runtime with, and which Chromium to drive.
pub fn runtime_env<'a>(cmd: &'a mut Command, outputs: &Outputs) -> &'a mut Command {
    cmd.current_dir(root())
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CHROMIUM_PATH", chromium_path());
    if let Some(config) = &outputs.config {
        cmd.env("REVERIE_WRANGLER_CONFIG", config);
    }
    cmd
}
