//! Installing the toolchain pieces the build needs, each only when missing
//! or at the wrong version, so every command is safe to repeat.

use std::path::PathBuf;
use std::process::Command;

use crate::{root, stage};

/// worker-build's version; it accepts wasm-bindgen 0.2.122..=0.2.129.
const WORKER_BUILD_VERSION: &str = "0.8.7";
const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// A `cargo` command using the same cargo that runs xtask.
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

/// Runs `cmd` to completion, inheriting stdio; a non-zero exit is an error
/// that names the command.
pub fn run(cmd: &mut Command) -> Result<(), String> {
    let status = cmd.status().map_err(|e| format!("cannot start {}: {e}", describe(cmd)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} failed ({status})", describe(cmd)))
    }
}

/// Runs `cmd` and returns its standard output, or `None` if it could not
/// start or failed.
pub fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        s.push(' ');
        s.push_str(&arg.to_string_lossy());
    }
    s
}

/// Everything `run` and `test` need to build: the wasm target, the
/// wasm-bindgen CLI at the lockfile's version, worker-build, and the npm
/// packages from the lockfile.
pub fn ensure_build_tools() -> Result<(), String> {
    stage("ensure rustup target wasm32-unknown-unknown", ensure_wasm_target)?;
    stage("ensure wasm-bindgen-cli", ensure_wasm_bindgen)?;
    stage("ensure worker-build", ensure_worker_build)?;
    stage("ensure npm packages (npm ci)", ensure_npm_packages)
}

fn ensure_wasm_target() -> Result<(), String> {
    let installed = output(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if installed.lines().any(|l| l.trim() == WASM_TARGET) {
        return Ok(());
    }
    run(Command::new("rustup").args(["target", "add", WASM_TARGET]))
}

/// The wasm-bindgen version pinned in `Cargo.lock`: the CLI must match it
/// exactly or the generated glue is rejected.
pub fn locked_wasm_bindgen_version() -> Result<String, String> {
    let lock =
        std::fs::read_to_string(root().join("Cargo.lock")).map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"wasm-bindgen\"" {
            if let Some(v) = lines.next().and_then(|l| l.trim().strip_prefix("version = \"")) {
                return Ok(v.trim_end_matches('"').to_string());
            }
        }
    }
    Err("Cargo.lock has no wasm-bindgen package".into())
}

fn ensure_wasm_bindgen() -> Result<(), String> {
    let want = locked_wasm_bindgen_version()?;
    let have = output(Command::new("wasm-bindgen").arg("--version")).unwrap_or_default();
    if have.split_whitespace().nth(1) == Some(want.as_str()) {
        return Ok(());
    }
    run(cargo().args(["install", "wasm-bindgen-cli", "--version", &want, "--locked"]))
}

fn ensure_worker_build() -> Result<(), String> {
    let have = output(Command::new("worker-build").arg("--version")).unwrap_or_default();
    if have.split_whitespace().last() == Some(WORKER_BUILD_VERSION) {
        return Ok(());
    }
    run(cargo().args(["install", "worker-build", "--version", WORKER_BUILD_VERSION, "--locked"]))
}

/// `npm ci` when `node_modules` was not installed from the current
/// lockfile; a copy of the lockfile in `node_modules` marks a good install.
fn ensure_npm_packages() -> Result<(), String> {
    let lock =
        std::fs::read(root().join("package-lock.json")).map_err(|e| format!("cannot read package-lock.json: {e}"))?;
    let stamp = root().join("node_modules/.reverie-installed-lock.json");
    if std::fs::read(&stamp).ok().as_deref() == Some(lock.as_slice()) {
        return Ok(());
    }
    run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(root()))?;
    std::fs::write(&stamp, lock).map_err(|e| format!("cannot write {}: {e}", stamp.display()))
}

/// Debian's Chromium, for the browser tests.
pub fn ensure_chromium() -> Result<(), String> {
    stage("ensure chromium (Debian package)", || {
        if chromium_path().exists() {
            return Ok(());
        }
        run(Command::new("apt-get").arg("update"))?;
        run(Command::new("apt-get").args(["install", "-y", "chromium"]).env("DEBIAN_FRONTEND", "noninteractive"))
    })
}

pub fn chromium_path() -> PathBuf {
    std::env::var_os("CHROMIUM_PATH").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// A binary installed by `npm ci`.
pub fn npm_bin(name: &str) -> PathBuf {
    root().join("node_modules/.bin").join(name)
}

/// The full path of a program on PATH, for tools that want one in an
/// environment variable.
pub fn which(name: &str) -> Result<PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("`{name}` is not on PATH"))
}
