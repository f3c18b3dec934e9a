//! Benchmarks that print numbers: throughput on synthetic stores (natively
//! and in WASM under node) and consolidation quality on LoCoMo.

use std::process::{Command, Stdio};

use serde_json::Value;

use crate::tools::{cargo, run};
use crate::{root, stage};

/// Store size at which WASM and native are compared.
const WASM_SIZE: usize = 100_000;

pub fn scale(args: &[String]) -> Result<(), String> {
    crate::tools::ensure_build_tools()?;
    let sizes: Vec<String> = if args.is_empty() {
        ["1000", "10000", "100000", "1000000"].map(String::from).to_vec()
    } else {
        args.to_vec()
    };
    let native_scale = |sizes: &[String]| json_line(example("bench_scale").args(sizes));
    let native = stage("native pass on synthetic stores, and stress shapes", || {
        native_scale(&[sizes.as_slice(), &["--stress".to_string()]].concat())
    })?;
    // WASM runs one size in a process of its own; so does the native pass
    // it is compared with, so neither inherits the heap or caches of
    // other sizes. The two take turns, three times, and the ratio is of
    // their medians: a slow spell then lands on a turn, not on one side.
    let pkg = stage("build core for WASM (node)", crate::build::core_wasm)?;
    let (mut native_alone, mut wasm) = (Vec::new(), Vec::new());
    stage("native and WASM passes on the WASM size, taking turns", || {
        for _ in 0..3 {
            let seconds = |v: Value| {
                v["seconds"][0].as_f64().ok_or("no seconds in the JSON line".to_string())
            };
            native_alone.push(seconds(native_scale(&[WASM_SIZE.to_string()])?)?);
            let mut node = Command::new("node");
            node.arg(root().join("xtask/wasm_scale.mjs")).arg(&pkg).arg(WASM_SIZE.to_string());
            wasm.push(seconds(json_line(&mut node)?)?);
        }
        Ok(())
    })?;
    let (native_alone, wasm_secs) = (median(&mut native_alone), median(&mut wasm));
    let ratio =
        if native_alone > 0.0 { Value::from(wasm_secs / native_alone) } else { Value::Null };
    let summary = serde_json::json!({
        "bench": "scale",
        "sizes": native["sizes"],
        "seconds": native["seconds"],
        "growth_per_10x": native["growth_per_10x"],
        "wasm_entries": WASM_SIZE,
        "wasm_seconds": wasm_secs,
        "native_seconds_alone": native_alone,
        "wasm_native_ratio": ratio,
        "dup_precision": native["dup_precision"],
        "dup_recall": native["dup_recall"],
        "supersede_precision": native["supersede_precision"],
        "supersede_recall": native["supersede_recall"],
        "stress_seconds": native["stress_seconds"],
    });
    println!("{summary}");
    Ok(())
}

/// LoCoMo conversations, read in place from the shared data folder (they
/// are externally authored and never committed).
pub fn quality(args: &[String]) -> Result<(), String> {
    locomo(args, "bench-quality", "rules-only pass on LoCoMo, events and utterances")
}

/// The model stages' planned calls on LoCoMo against a naive dream.
pub fn cost(args: &[String]) -> Result<(), String> {
    locomo(args, "bench-cost", "planned model calls on LoCoMo against a naive dream")
}

/// Runs the example of `bench` (`bench-x` runs `bench_x`) on the LoCoMo
/// folder `--data DIR` names, or the shared one.
fn locomo(args: &[String], bench: &str, title: &str) -> Result<(), String> {
    crate::tools::ensure_wordnet()?;
    let data = match args {
        [] => root().join("../shared/data/locomo"),
        [flag, dir] if flag == "--data" => std::path::PathBuf::from(dir),
        _ => return Err(format!("usage: cargo xtask {bench} [--data DIR]")),
    };
    if !data.is_dir() {
        return Err(format!("no LoCoMo data at {} (pass --data DIR)", data.display()));
    }
    stage(title, || run(example(&bench.replace('-', "_")).arg("--data").arg(&data)))
}

/// Labelled pairs (SICK, SituatedQA, and pairs made from templates), read
/// in place from the shared data folder.
pub fn pairs(args: &[String]) -> Result<(), String> {
    crate::tools::ensure_wordnet()?;
    let mut args = args.to_vec();
    if !args.iter().any(|a| a == "--data") {
        args.extend(["--data".to_string(), root().join("../shared/data").display().to_string()]);
    }
    stage("rules-only pass on labelled pairs", || run(example("bench_pairs").args(&args)))
}

/// The poisoning corpus (`tests/poison/*.jsonl`) with the approval gate
/// off: fails when any harmful change would be applied unattended.
pub fn poison(args: &[String]) -> Result<(), String> {
    crate::tools::ensure_wordnet()?;
    let mut args = args.to_vec();
    if !args.iter().any(|a| a.ends_with(".jsonl")) {
        args.extend(poison_sets()?);
    }
    stage("rules-only pass on the poisoning corpus, approval off", || {
        run(example("bench_poison").args(&args))
    })
}

/// The poisoning corpus in the test suite: the debug build the tests
/// made, every set, failing on any harmful change applied unattended.
pub fn poison_check() -> Result<(), String> {
    let mut cmd = cargo();
    cmd.args(["run", "-q", "-p", "reverie-core", "--example", "bench_poison", "--"]);
    run(cmd.args(poison_sets()?))
}

fn poison_sets() -> Result<Vec<String>, String> {
    let dir = root().join("tests/poison");
    let mut sets: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .map(|p| p.display().to_string())
        .collect();
    sets.sort();
    Ok(sets)
}

/// `cargo run` of one of the core's examples, optimized, its arguments to
/// follow.
fn example(name: &str) -> Command {
    let mut cmd = cargo();
    cmd.args(["run", "--release", "-q", "-p", "reverie-core", "--example", name, "--"]);
    cmd
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Runs `cmd` (stderr shown as it comes) and parses the last line of its
/// standard output as JSON.
fn json_line(cmd: &mut Command) -> Result<Value, String> {
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", crate::tools::describe(cmd)))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    if !out.status.success() {
        return Err(format!("{} failed ({})", crate::tools::describe(cmd), out.status));
    }
    let last = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or("no JSON line in the output")?;
    serde_json::from_str(last).map_err(|e| format!("unreadable JSON line `{last}`: {e}"))
}
