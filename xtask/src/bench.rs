//! Benchmarks that print numbers: throughput on synthetic stores and
//! consolidation quality on LoCoMo conversations.

pub fn scale(_args: &[String]) -> Result<(), String> {
    Err("bench-scale is not built yet".into())
}

pub fn quality(_args: &[String]) -> Result<(), String> {
    Err("bench-quality is not built yet".into())
}
