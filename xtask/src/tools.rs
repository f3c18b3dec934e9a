//! Installing the toolchain pieces the build needs, each only when missing
//! or at the wrong version, so every command is safe to repeat.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{root, stage};

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

/// Runs `cmd` with its output captured, shown only if it fails (or
/// always, with `--verbose`).
pub fn run_quietly(cmd: &mut Command) -> Result<(), String> {
    if crate::verbose() {
        return run(cmd);
    }
    let out = cmd.output().map_err(|e| format!("cannot start {}: {e}", describe(cmd)))?;
    if out.status.success() {
        return Ok(());
    }
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Err(format!("{} failed ({})\n{}", describe(cmd), out.status, last_lines(&text, 40)))
}

/// Sends `cmd`'s standard output and error to a new file at `path`.
pub fn log_to(cmd: &mut Command, path: &Path) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let log =
        std::fs::File::create(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let err = log.try_clone().map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    cmd.stdout(log).stderr(err);
    Ok(())
}

/// The last `n` lines of `text`.
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
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

/// Everything `run` and `test` need to build: the wasm target, the npm
/// packages from the lockfile and the wasm-bindgen CLI at the lockfile's
/// version. (Installing the CLI beside the first compile was tried: on two
/// cores the two took no less time together than one after the other.)
pub fn ensure_build_tools() -> Result<(), String> {
    ensure_wordnet()?;
    stage("ensure rustup target wasm32-unknown-unknown", ensure_wasm_target)?;
    stage("ensure npm packages (npm ci)", ensure_npm_packages)?;
    stage("ensure wasm-bindgen-cli", || {
        let want = locked_wasm_bindgen_version()?;
        let have = output(Command::new(wasm_bindgen()).arg("--version")).unwrap_or_default();
        if have.split_whitespace().nth(1) == Some(want.as_str()) {
            return Ok(());
        }
        eprintln!("    installing {want} (log: target/xtask/wasm-bindgen-install.log)");
        install_wasm_bindgen(&want)
    })
}

fn ensure_wasm_target() -> Result<(), String> {
    let installed =
        output(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if installed.lines().any(|l| l.trim() == WASM_TARGET) {
        return Ok(());
    }
    run(Command::new("rustup").args(["target", "add", WASM_TARGET]))
}

/// The wasm-bindgen version pinned in `Cargo.lock`: the CLI must match it
/// exactly or the generated glue is rejected.
pub fn locked_wasm_bindgen_version() -> Result<String, String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock"))
        .map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
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

/// Installs the CLI alone: no default features (they only add TLS for the
/// test runner's downloads, a fifth of the compile time).
fn install_wasm_bindgen(version: &str) -> Result<(), String> {
    let log = root().join("target/xtask/wasm-bindgen-install.log");
    let mut cmd = cargo();
    cmd.args(["install", "wasm-bindgen-cli", "--version", version, "--locked"]).args([
        "--no-default-features",
        "--bin",
        "wasm-bindgen",
    ]);
    log_to(&mut cmd, &log)?;
    run(&mut cmd).map_err(|e| {
        format!("{e}\n{}", last_lines(&std::fs::read_to_string(&log).unwrap_or_default(), 30))
    })
}

/// `npm ci` when `node_modules` was not installed from the current
/// lockfile; a copy of the lockfile in `node_modules` marks a good install.
fn ensure_npm_packages() -> Result<(), String> {
    let lock = std::fs::read(root().join("package-lock.json"))
        .map_err(|e| format!("cannot read package-lock.json: {e}"))?;
    let stamp = root().join("node_modules/.reverie-installed-lock.json");
    if std::fs::read(&stamp).ok().as_deref() == Some(lock.as_slice()) {
        return Ok(());
    }
    run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(root()))?;
    std::fs::write(&stamp, lock).map_err(|e| format!("cannot write {}: {e}", stamp.display()))
}

/// Debian's Chromium, for the browser tests.
pub fn ensure_chromium() -> Result<(), String> {
    ensure_debian_package("chromium", &chromium_path())
}

/// WordNet 3.0 (Debian's `wordnet-base`), which the core's build script
/// reads its lexicon from.
pub fn ensure_wordnet() -> Result<(), String> {
    let dir = std::env::var_os("REVERIE_WORDNET")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/wordnet"));
    ensure_debian_package("wordnet-base", &dir.join("index.noun"))
}

/// Installs a Debian package unless `installs` (a file it installs) exists.
fn ensure_debian_package(name: &str, installs: &Path) -> Result<(), String> {
    stage(&format!("ensure {name} (Debian package)"), || {
        if installs.exists() {
            return Ok(());
        }
        run(Command::new("apt-get").arg("update"))?;
        run(Command::new("apt-get")
            .args(["install", "-y", name])
            .env("DEBIAN_FRONTEND", "noninteractive"))
    })
}

pub fn chromium_path() -> PathBuf {
    std::env::var_os("CHROMIUM_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// The wasm-bindgen CLI: the one `cargo install` put in cargo's home (where
/// `ensure_build_tools` installs it, on PATH or not), else whichever is on PATH.
pub fn wasm_bindgen() -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    match home.map(|h| h.join("bin/wasm-bindgen")) {
        Some(path) if path.is_file() => path,
        _ => PathBuf::from("wasm-bindgen"),
    }
}

/// A binary installed by `npm ci`.
pub fn npm_bin(name: &str) -> PathBuf {
    root().join("node_modules/.bin").join(name)
}
