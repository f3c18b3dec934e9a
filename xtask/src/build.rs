//! Building the two wasm32 crates: the dashboard into `target/site` (the
//! worker's static assets) and the worker with worker-build.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::root;
use crate::tools::{self, cargo, npm_bin, run};

const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// The wasm crates are optimized for size; native code keeps opt-level 3.
/// The dashboard, downloaded by every reviewer, takes the smallest code
/// (`z`, a tenth smaller than `s`); the worker, which runs passes, keeps
/// `s`.
const OPT_LEVEL: &str = "CARGO_PROFILE_RELEASE_OPT_LEVEL";
const DASHBOARD_OPT: &str = "z";
const WORKER_OPT: &str = "s";
/// The features rustc enables by default for wasm32, so wasm-opt keeps them.
const WASM_FEATURES: [&str; 6] = [
    "--enable-bulk-memory",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-reference-types",
    "--enable-multivalue",
];

/// Builds the Leptos dashboard and assembles `target/site`; returns a line
/// with the wasm sizes (raw, after wasm-opt, gzip).
pub fn site() -> Result<String, String> {
    let root = root();
    run(cargo()
        .args(["build", "-p", "reverie-web", "--release", "--target", WASM_TARGET])
        .env(OPT_LEVEL, DASHBOARD_OPT))?;
    let site = root.join("target/site");
    let pkg = site.join("pkg");
    if site.exists() {
        fs::remove_dir_all(&site).map_err(|e| format!("cannot clear {}: {e}", site.display()))?;
    }
    fs::create_dir_all(&pkg).map_err(|e| format!("cannot create {}: {e}", pkg.display()))?;
    let raw = root.join("target").join(WASM_TARGET).join("release/reverie_web.wasm");
    run(Command::new("wasm-bindgen").args(["--target", "web", "--no-typescript", "--out-dir"]).arg(&pkg).arg(&raw))?;
    let bg = pkg.join("reverie_web_bg.wasm");
    let bindgen_size = file_size(&bg)?;
    run(Command::new(npm_bin("wasm-opt")).args(WASM_FEATURES).arg("-Oz").arg(&bg).arg("-o").arg(&bg))?;
    let opt_size = file_size(&bg)?;
    let gz_size = gzip_size(&bg)?;

    copy(&root.join("index.html"), &site.join("index.html"))?;
    copy(&root.join("web/style.css"), &site.join("style.css"))?;
    // The service worker's cache name carries the build's fingerprint, so a
    // new build replaces the offline copy of the app shell.
    let sw = fs::read_to_string(root.join("web/sw.js")).map_err(|e| format!("cannot read web/sw.js: {e}"))?;
    let fingerprint = format!("{:x}", fnv1a(&fs::read(&bg).map_err(|e| e.to_string())?));
    fs::write(site.join("sw.js"), sw.replace("__BUILD__", &fingerprint))
        .map_err(|e| format!("cannot write sw.js: {e}"))?;

    Ok(format!(
        "dashboard wasm: {} bytes after wasm-bindgen, {} bytes after wasm-opt -Oz, {} bytes gzip -9",
        bindgen_size, opt_size, gz_size
    ))
}

/// Builds the worker with worker-build, pointing it at local esbuild,
/// wasm-bindgen and wasm-opt so nothing is downloaded.
pub fn worker() -> Result<(), String> {
    run(Command::new("worker-build")
        .arg("--release")
        .env(OPT_LEVEL, WORKER_OPT)
        .current_dir(root().join("worker"))
        .env("ESBUILD_BIN", npm_bin("esbuild"))
        .env("WASM_BINDGEN_BIN", tools::which("wasm-bindgen")?)
        .env("WASM_OPT_BIN", npm_bin("wasm-opt")))?;
    let wasm = root().join("worker/build/index_bg.wasm");
    if wasm.exists() {
        println!("worker wasm: {} bytes, {} bytes gzip -9", file_size(&wasm)?, gzip_size(&wasm)?);
    }
    Ok(())
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    fs::copy(from, to).map(drop).map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))
}

fn file_size(path: &Path) -> Result<u64, String> {
    fs::metadata(path).map(|m| m.len()).map_err(|e| format!("cannot stat {}: {e}", path.display()))
}

fn gzip_size(path: &Path) -> Result<usize, String> {
    let out = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run gzip: {e}"))?;
    Ok(out.stdout.len())
}

/// A stable 64-bit FNV-1a hash, for build fingerprints.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}
