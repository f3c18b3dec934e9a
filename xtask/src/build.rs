//! Building the two wasm32 crates and binding them for their hosts: the
//! dashboard into a site folder (the worker's static assets) and the worker
//! into a folder wrangler loads.
//!
//! Both crates compile in one cargo invocation under the workspace's
//! `wasm` profile, so they share their dependencies and every command
//! builds them the same way (no rebuilds between `run`, `test` and the
//! benchmarks). Binding is skipped when its inputs have not changed, and a
//! folder is replaced only once its new contents are complete, so a
//! running service never sees a half-written build.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::root;
use crate::tools::{self, cargo, npm_bin, run};

const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// The workspace profile for the two wasm crates (see `Cargo.toml`).
const WASM_PROFILE: &str = "wasm";
/// The features rustc enables by default for wasm32, so wasm-opt keeps
/// them (and emits nothing newer, which the runtime might not take).
const WASM_FEATURES: [&str; 6] = [
    "--enable-bulk-memory",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-reference-types",
    "--enable-multivalue",
];
/// The steps below, as written: a change to them rebuilds their outputs.
const RECIPE: &str = include_str!("build.rs");

/// Where a command puts what it builds. `run` and `build` use the places
/// `worker/wrangler.toml` names (the ones a deploy reads); `test` and the
/// load test use their own, so they never replace what a running `run`
/// serves.
pub struct Outputs {
    pub site: PathBuf,
    pub worker: PathBuf,
    /// The wrangler config to start the runtime with, when not the
    /// committed one.
    pub config: Option<PathBuf>,
}

impl Outputs {
    pub fn deploy() -> Outputs {
        Outputs {
            site: root().join("target/site"),
            worker: root().join("worker/build"),
            config: None,
        }
    }

    pub fn e2e() -> Outputs {
        let dir = root().join("target/e2e");
        Outputs {
            site: dir.join("site"),
            worker: dir.join("worker"),
            config: Some(dir.join("wrangler.toml")),
        }
    }
}

/// Compiles the dashboard and the worker to wasm32.
pub fn compile() -> Result<(), String> {
    run(cargo().args([
        "build",
        "-p",
        "reverie-web",
        "-p",
        "reverie-worker",
        "--lib",
        "--profile",
        WASM_PROFILE,
        "--target",
        WASM_TARGET,
    ]))
}

fn compiled(crate_name: &str) -> PathBuf {
    root().join("target").join(WASM_TARGET).join(WASM_PROFILE).join(format!("{crate_name}.wasm"))
}

/// Binds the compiled dashboard for the browser, shrinks it and assembles
/// the site in `out`; returns a line with the wasm sizes.
pub fn site(out: &Path) -> Result<String, String> {
    let root = root();
    let raw = compiled("reverie_web");
    let sources =
        [raw.clone(), root.join("index.html"), root.join("web/style.css"), root.join("web/sw.js")];
    let built = root.join("target/bound/site");
    let mut bindgen_size = None;
    let stamp = make_unless_fresh(&built, &sources, |staging| {
        let pkg = staging.join("pkg");
        run(Command::new(tools::wasm_bindgen())
            .args(["--target", "web", "--no-typescript", "--out-dir"])
            .arg(&pkg)
            .arg(&raw))?;
        let bg = pkg.join("reverie_web_bg.wasm");
        bindgen_size = Some(file_size(&bg)?);
        run(Command::new(npm_bin("wasm-opt"))
            .args(WASM_FEATURES)
            .arg("-Oz")
            .arg(&bg)
            .arg("-o")
            .arg(&bg))?;
        copy(&root.join("index.html"), &staging.join("index.html"))?;
        copy(&root.join("web/style.css"), &staging.join("style.css"))?;
        // The service worker's cache name carries the build's fingerprint,
        // so a new build replaces the offline copy of the app shell.
        let sw = read_to_string(&root.join("web/sw.js"))?;
        let fingerprint = format!("{:x}", fnv1a(&fs::read(&bg).map_err(|e| e.to_string())?));
        write(&staging.join("sw.js"), &sw.replace("__BUILD__", &fingerprint))
    })?;
    publish(&built, out, &stamp)?;
    let wasm = built.join("pkg/reverie_web_bg.wasm");
    let (size, gz) = (file_size(&wasm)?, gzip_size(&wasm)?);
    Ok(match bindgen_size {
        Some(b) => format!(
            "dashboard wasm: {b} bytes after wasm-bindgen, {size} after wasm-opt -Oz, {gz} gzip -9"
        ),
        None => format!("dashboard wasm: unchanged, {size} bytes ({gz} bytes gzip -9)"),
    })
}

/// Binds the compiled worker as an ES module for the Workers runtime, with
/// the entry point `worker/shim.mjs`, in `out`; returns a line with its
/// size.
pub fn worker(out: &Path) -> Result<String, String> {
    let raw = compiled("reverie_worker");
    let shim = root().join("worker/shim.mjs");
    let built = root().join("target/bound/worker");
    let mut made = false;
    let stamp = make_unless_fresh(&built, &[raw.clone(), shim.clone()], |staging| {
        made = true;
        // `module` output with the flags the worker crate's panic recovery
        // relies on (a reset function and an abort handler).
        run(Command::new(tools::wasm_bindgen())
            .args(["--target", "module", "--out-name", "index", "--no-typescript"])
            .args([
                "--experimental-reset-state-function",
                "--force-enable-abort-handler",
                "--out-dir",
            ])
            .arg(staging)
            .arg(&raw))?;
        let bg = staging.join("index_bg.wasm");
        // The compiler already optimized for size; wasm-opt's first level
        // takes a tenth off in a fifth of the time `-Os` needs (9 s against
        // 45 s), for 2% more bytes.
        run(Command::new(npm_bin("wasm-opt"))
            .args(WASM_FEATURES)
            .args(["--enable-exception-handling", "-O1"])
            .arg(&bg)
            .arg("-o")
            .arg(&bg))?;
        // wasm-bindgen imports the module in its source phase; the
        // runtime's bundler takes a plain import of a `.wasm` file as a
        // compiled module, which is the same thing.
        let index = staging.join("index.js");
        let glue = read_to_string(&index)?;
        if !glue.contains("import source ") {
            return Err(format!(
                "{}: no `import source` of the wasm module; wasm-bindgen changed",
                index.display()
            ));
        }
        write(&index, &glue.replace("import source ", "import "))?;
        copy(&shim, &staging.join("shim.mjs"))
    })?;
    publish(&built, out, &stamp)?;
    let bg = built.join("index_bg.wasm");
    let unchanged = if made { "" } else { "unchanged, " };
    Ok(format!(
        "worker wasm: {unchanged}{} bytes, {} bytes gzip -9",
        file_size(&bg)?,
        gzip_size(&bg)?
    ))
}

/// Makes `built` with `make`, which fills an empty folder, unless it was
/// made from the same `inputs` (see `stamp`); returns the stamp.
fn make_unless_fresh(
    built: &Path,
    inputs: &[PathBuf],
    make: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<String, String> {
    let stamp = stamp(inputs)?;
    if !fresh(built, &stamp) {
        let staging = staging_for(built)?;
        make(&staging)?;
        finish(&staging, built, &stamp)?;
    }
    Ok(stamp)
}

/// Copies the bound build `built` to `out` unless `out` already holds it.
fn publish(built: &Path, out: &Path, stamp: &str) -> Result<(), String> {
    if fresh(out, stamp) {
        return Ok(());
    }
    let staging = staging_for(out)?;
    copy_dir(built, &staging)?;
    finish(&staging, out, stamp)
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    fs::create_dir_all(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    for entry in fs::read_dir(from).map_err(|e| format!("cannot list {}: {e}", from.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let target = to.join(path.file_name().unwrap_or_default());
        if path.is_dir() {
            copy_dir(&path, &target)?;
        } else {
            copy(&path, &target)?;
        }
    }
    Ok(())
}

/// Compiles `reverie-core` with its JavaScript bindings and binds it for
/// node, in `target/core-wasm`; returns that folder. The core is a plain
/// library everywhere else, so only this build makes it a `cdylib`.
pub fn core_wasm() -> Result<PathBuf, String> {
    run(cargo().args([
        "rustc",
        "-p",
        "reverie-core",
        "--lib",
        "--release",
        "--target",
        WASM_TARGET,
        "--features",
        "wasm",
        "--crate-type",
        "cdylib",
    ]))?;
    let raw = root().join("target").join(WASM_TARGET).join("release/reverie_core.wasm");
    let out = root().join("target/core-wasm");
    make_unless_fresh(&out, std::slice::from_ref(&raw), |staging| {
        run(Command::new(tools::wasm_bindgen())
            .args(["--target", "nodejs", "--out-dir"])
            .arg(staging)
            .arg(&raw))?;
        // wasm-bindgen's node output is CommonJS; the workspace's
        // package.json says ES modules, so this folder says otherwise.
        write(&staging.join("package.json"), "{\"type\": \"commonjs\"}\n")
    })?;
    Ok(out)
}

/// Writes the wrangler config of `outputs` (when it has one of its own):
/// the committed one with its entry point, assets and migrations pointed
/// at `outputs`' folders.
pub fn wrangler_config(outputs: &Outputs) -> Result<(), String> {
    let Some(path) = &outputs.config else { return Ok(()) };
    let committed = root().join("worker/wrangler.toml");
    let text = read_to_string(&committed)?;
    let quote = |p: &Path| format!("{:?}", p.display().to_string());
    let mut replaced = [false; 3];
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let key = line.split('=').next().unwrap_or("").trim();
            let (i, value) = match key {
                "main" => (0, quote(&outputs.worker.join("shim.mjs"))),
                "directory" => (1, quote(&outputs.site)),
                "migrations_dir" => (2, quote(&root().join("worker/migrations"))),
                _ => return line.to_string(),
            };
            replaced[i] = true;
            format!("{key} = {value}")
        })
        .collect();
    if replaced.contains(&false) {
        return Err(format!(
            "{} lacks one of main, directory, migrations_dir",
            committed.display()
        ));
    }
    let dir = path.parent().ok_or("the wrangler config has no folder")?;
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    write(path, &(lines.join("\n") + "\n"))
}

/// A fingerprint of a build step's inputs: the files' bytes, the recipe
/// and the versions of the tools that run it.
fn stamp(inputs: &[PathBuf]) -> Result<String, String> {
    let mut bytes =
        format!("{RECIPE}\nwasm-bindgen {}\n", tools::locked_wasm_bindgen_version()?).into_bytes();
    bytes.extend(
        fs::read(root().join("package-lock.json"))
            .map_err(|e| format!("cannot read package-lock.json: {e}"))?,
    );
    for path in inputs {
        bytes.extend(path.display().to_string().bytes());
        bytes.extend(fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?);
    }
    Ok(format!("{:016x}", fnv1a(&bytes)))
}

const STAMP_FILE: &str = ".build-stamp";

/// Whether `out` was built from the inputs `stamp` describes.
fn fresh(out: &Path, stamp: &str) -> bool {
    fs::read_to_string(out.join(STAMP_FILE)).is_ok_and(|s| s == stamp)
}

/// An empty folder beside `out` to build its new contents in.
fn staging_for(out: &Path) -> Result<PathBuf, String> {
    let staging = sibling(out, "new");
    if staging.exists() {
        fs::remove_dir_all(&staging)
            .map_err(|e| format!("cannot clear {}: {e}", staging.display()))?;
    }
    fs::create_dir_all(&staging)
        .map_err(|e| format!("cannot create {}: {e}", staging.display()))?;
    Ok(staging)
}

/// Puts the complete `staging` folder in place of `out`: two renames, so
/// `out` is either the old build or the new one, never a partial one.
fn finish(staging: &Path, out: &Path, stamp: &str) -> Result<(), String> {
    write(&staging.join(STAMP_FILE), stamp)?;
    let old = sibling(out, "old");
    if old.exists() {
        fs::remove_dir_all(&old).map_err(|e| format!("cannot clear {}: {e}", old.display()))?;
    }
    if out.exists() {
        fs::rename(out, &old).map_err(|e| format!("cannot move {} aside: {e}", out.display()))?;
    }
    fs::rename(staging, out)
        .map_err(|e| format!("cannot move {} into place: {e}", staging.display()))?;
    if old.exists() {
        fs::remove_dir_all(&old).map_err(|e| format!("cannot remove {}: {e}", old.display()))?;
    }
    Ok(())
}

fn sibling(out: &Path, suffix: &str) -> PathBuf {
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    out.with_file_name(format!(".{name}.{suffix}"))
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    fs::copy(from, to)
        .map(drop)
        .map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))
}

fn read_to_string(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
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
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}
