//! Outcome statistics: did a pass make the agent better? Per-session
//! metrics of a baseline window and a candidate window are compared by
//! difference of means, a seeded bootstrap confidence interval and Hedges'
//! g, and a regression is called by a stated rule.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::rng::Rng;

/// One session's metric values, e.g. `task_completion_rate`,
/// `session_duration_s`, `memory_lookup_count`, `error_rate`,
/// `user_correction_rate`, or any custom name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionMetrics {
    /// The session the values were measured in.
    pub session_id: String,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    /// Metric values by metric name.
    pub values: BTreeMap<String, f64>,
}

/// Which way a metric improves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// A larger value is better, e.g. `task_completion_rate`.
    HigherIsBetter,
    /// A smaller value is better, e.g. `error_rate`.
    LowerIsBetter,
}

/// The built-in metrics' directions; custom metrics count as higher is
/// better unless the caller says otherwise.
pub fn direction_of(metric: &str) -> Direction {
    match metric {
        "error_rate"
        | "user_correction_rate"
        | "session_duration_s"
        | "average_session_duration"
        | "memory_lookup_count" => Direction::LowerIsBetter,
        _ => Direction::HigherIsBetter,
    }
}

/// Settings of `compare`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompareConfig {
    /// Bootstrap resamples, 1..=100_000.
    pub resamples: u32,
    /// Confidence level of the interval, strictly between 0 and 1.
    pub confidence: f64,
    /// Seed of the bootstrap draws; the same seed gives the same intervals.
    pub seed: u64,
    /// The smallest |Hedges' g| in the worse direction that counts as a
    /// regression (0.2 is a small effect).
    pub regression_threshold: f64,
    /// Directions by metric name, overriding `direction_of`.
    #[serde(default)]
    pub directions: BTreeMap<String, Direction>,
}

impl CompareConfig {
    /// 2,000 resamples, a 95% interval, regressions from g = 0.2.
    pub fn recommended(seed: u64) -> Self {
        CompareConfig {
            resamples: 2000,
            confidence: 0.95,
            seed,
            regression_threshold: 0.2,
            directions: BTreeMap::new(),
        }
    }
}

/// What the comparison concludes for one metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Better by the rule in `MetricComparison::rule`.
    Improved,
    /// Worse by that rule.
    Regressed,
    /// Enough data, but neither better nor worse by that rule.
    NoClearChange,
    /// A window has fewer than 2 sessions with a finite value of the metric.
    InsufficientData,
}

/// One metric compared between the baseline and candidate windows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricComparison {
    /// The metric's name.
    pub metric: String,
    /// The direction used: from `CompareConfig::directions`, else `direction_of`.
    pub direction: Direction,
    /// Baseline sessions with a finite value of the metric.
    pub baseline_n: usize,
    /// Candidate sessions with a finite value of the metric.
    pub candidate_n: usize,
    /// Mean of the baseline values; 0 when there are none.
    pub baseline_mean: f64,
    /// Mean of the candidate values; 0 when there are none.
    pub candidate_mean: f64,
    /// `candidate_mean - baseline_mean`.
    pub difference: f64,
    /// Bootstrap percentile interval of the difference.
    pub ci_low: f64,
    /// Upper end of that interval (`ci_low` is the lower). Both equal
    /// `difference` when the data are insufficient.
    pub ci_high: f64,
    /// Hedges' g of candidate against baseline.
    pub effect_size: f64,
    /// What the rule concludes.
    pub verdict: Verdict,
    /// The rule applied, in words, with its threshold.
    pub rule: String,
}

/// A baseline window compared with a candidate window, metric by metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Sorted by metric name.
    pub metrics: Vec<MetricComparison>,
    /// Names of the metrics whose verdict is `Regressed`, sorted.
    pub regressions: Vec<String>,
}

/// Compares every metric present in either window. Sessions without a
/// metric, and non-finite values, are left out of that metric.
pub fn compare(
    baseline: &[SessionMetrics],
    candidate: &[SessionMetrics],
    config: &CompareConfig,
) -> Comparison {
    let names: BTreeSet<&String> =
        baseline.iter().chain(candidate).flat_map(|s| s.values.keys()).collect();
    let metrics: Vec<MetricComparison> =
        names.into_iter().map(|m| compare_metric(m, baseline, candidate, config)).collect();
    let regressions = metrics
        .iter()
        .filter(|m| m.verdict == Verdict::Regressed)
        .map(|m| m.metric.clone())
        .collect();
    Comparison { metrics, regressions }
}

/// The metric's values, in a canonical order (by session, then value) so
/// the result does not depend on the order of the input.
fn values(window: &[SessionMetrics], metric: &str) -> Vec<f64> {
    let mut v: Vec<(&str, f64)> = window
        .iter()
        .filter_map(|s| {
            s.values.get(metric).filter(|x| x.is_finite()).map(|&x| (s.session_id.as_str(), x))
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(b.0).then(a.1.total_cmp(&b.1)));
    v.into_iter().map(|(_, x)| x).collect()
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

fn variance(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return 0.0;
    }
    let m = mean(v);
    v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - 1) as f64
}

/// Hedges' g: the difference of means over the pooled standard deviation,
/// with the small-sample correction `1 - 3 / (4(n1 + n2) - 9)`.
fn hedges_g(b: &[f64], c: &[f64]) -> f64 {
    let (n1, n2) = (b.len() as f64, c.len() as f64);
    if n1 + n2 <= 2.0 {
        return 0.0;
    }
    let pooled = (((n1 - 1.0) * variance(b) + (n2 - 1.0) * variance(c)) / (n1 + n2 - 2.0)).sqrt();
    let diff = mean(c) - mean(b);
    if pooled == 0.0 {
        return if diff == 0.0 { 0.0 } else { diff.signum() * f64::INFINITY };
    }
    let correction = 1.0 - 3.0 / (4.0 * (n1 + n2) - 9.0);
    diff / pooled * correction
}

fn compare_metric(
    metric: &str,
    baseline: &[SessionMetrics],
    candidate: &[SessionMetrics],
    config: &CompareConfig,
) -> MetricComparison {
    let direction = config.directions.get(metric).copied().unwrap_or_else(|| direction_of(metric));
    let (b, c) = (values(baseline, metric), values(candidate, metric));
    let (bm, cm) = (mean(&b), mean(&c));
    let difference = cm - bm;
    let confidence =
        if config.confidence > 0.0 && config.confidence < 1.0 { config.confidence } else { 0.95 };
    let (ci_low, ci_high, effect_size, verdict, rule) = if b.len() < 2 || c.len() < 2 {
        let rule =
            "insufficient data: each window needs at least 2 sessions with this metric".to_string();
        (difference, difference, 0.0, Verdict::InsufficientData, rule)
    } else {
        judge(metric, &b, &c, direction, confidence, config)
    };
    MetricComparison {
        metric: metric.to_string(),
        direction,
        baseline_n: b.len(),
        candidate_n: c.len(),
        baseline_mean: bm,
        candidate_mean: cm,
        difference,
        ci_low,
        ci_high,
        effect_size,
        verdict,
        rule,
    }
}

/// The bootstrap interval, Hedges' g, the verdict and the rule's wording
/// for two windows of at least two values each.
fn judge(
    metric: &str,
    b: &[f64],
    c: &[f64],
    direction: Direction,
    confidence: f64,
    config: &CompareConfig,
) -> (f64, f64, f64, Verdict, String) {
    let level = (confidence * 100.0).round();
    // Each metric draws from its own stream, so adding a metric does not
    // change another's interval.
    let mut rng = Rng::new(config.seed ^ crate::text::hash_str(metric));
    let resamples = config.resamples.clamp(1, 100_000) as usize;
    let draw = |v: &[f64], rng: &mut Rng| {
        (0..v.len()).map(|_| v[rng.below(v.len())]).sum::<f64>() / v.len() as f64
    };
    let mut diffs: Vec<f64> = (0..resamples)
        .map(|_| {
            let db = draw(b, &mut rng);
            draw(c, &mut rng) - db
        })
        .collect();
    diffs.sort_by(f64::total_cmp);
    // Percentiles by nearest rank.
    let rank = |q: f64| diffs[((q * resamples as f64).ceil() as usize).clamp(1, resamples) - 1];
    let alpha = (1.0 - confidence) / 2.0;
    let (ci_low, ci_high) = (rank(alpha), rank(1.0 - alpha));
    let g = hedges_g(b, c);
    let t = config.regression_threshold.max(0.0);
    let (worse, better) = match direction {
        Direction::HigherIsBetter => (ci_high < 0.0 && g <= -t, ci_low > 0.0 && g >= t),
        Direction::LowerIsBetter => (ci_low > 0.0 && g >= t, ci_high < 0.0 && g <= -t),
    };
    let verdict = if worse {
        Verdict::Regressed
    } else if better {
        Verdict::Improved
    } else {
        Verdict::NoClearChange
    };
    let side = match direction {
        Direction::HigherIsBetter => "lower",
        Direction::LowerIsBetter => "higher",
    };
    let rule = format!(
        "regressed when the {level}% bootstrap interval of the difference lies entirely on the {side} (worse) side of 0 and |g| >= {t:.2}; improved symmetrically; otherwise no clear change"
    );
    (ci_low, ci_high, g, verdict, rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` sessions whose `metric` is `centre` plus a small deterministic wobble.
    fn window(prefix: &str, metric: &str, centre: f64, n: usize) -> Vec<SessionMetrics> {
        (0..n)
            .map(|i| SessionMetrics {
                session_id: format!("{prefix}{i:03}"),
                at: i as i64,
                values: BTreeMap::from([(
                    metric.to_string(),
                    centre + ((i * 7) % 5) as f64 * 0.01 - 0.02,
                )]),
            })
            .collect()
    }

    fn verdict(metric: &str, before: f64, after: f64) -> Verdict {
        let c = compare(
            &window("b", metric, before, 30),
            &window("c", metric, after, 30),
            &CompareConfig::recommended(7),
        );
        c.metrics[0].verdict
    }

    #[test]
    fn verdicts_follow_the_metric_direction() {
        let check = |metric: &str, before: f64, after: f64, expected: Verdict| {
            assert_eq!(verdict(metric, before, after), expected, "{metric} {before} -> {after}");
        };
        check("task_completion_rate", 0.9, 0.6, Verdict::Regressed);
        check("task_completion_rate", 0.6, 0.9, Verdict::Improved);
        check("task_completion_rate", 0.8, 0.8, Verdict::NoClearChange);
        check("error_rate", 0.05, 0.3, Verdict::Regressed);
        check("error_rate", 0.3, 0.05, Verdict::Improved);
        check("user_satisfaction", 0.9, 0.5, Verdict::Regressed);
    }

    #[test]
    fn intervals_bracket_the_difference_and_are_seeded() {
        let b = window("b", "task_completion_rate", 0.9, 30);
        let c = window("c", "task_completion_rate", 0.6, 30);
        let one = compare(&b, &c, &CompareConfig::recommended(1));
        let m = &one.metrics[0];
        assert!(m.ci_low <= m.difference && m.difference <= m.ci_high, "{m:?}");
        assert!((m.difference + 0.3).abs() < 1e-9);
        assert_eq!(one, compare(&b, &c, &CompareConfig::recommended(1)));
        assert_eq!(one.regressions, vec!["task_completion_rate".to_string()]);
        assert!(m.rule.contains("95%") && m.rule.contains("0.20"), "{}", m.rule);
    }

    #[test]
    fn input_order_does_not_matter() {
        let b = window("b", "error_rate", 0.1, 25);
        let c = window("c", "error_rate", 0.12, 25);
        let mut rb = b.clone();
        rb.reverse();
        let mut rc = c.clone();
        rc.rotate_left(7);
        let config = CompareConfig::recommended(3);
        assert_eq!(compare(&b, &c, &config), compare(&rb, &rc, &config));
    }

    #[test]
    fn thin_or_bad_data_is_reported_not_fatal() {
        let mut b = window("b", "task_completion_rate", 0.9, 1);
        let c = window("c", "task_completion_rate", 0.8, 10);
        let one = compare(&b, &c, &CompareConfig::recommended(1));
        assert_eq!(one.metrics[0].verdict, Verdict::InsufficientData);
        b[0].values.insert("task_completion_rate".into(), f64::NAN);
        b.push(SessionMetrics {
            session_id: "x".into(),
            at: 0,
            values: BTreeMap::from([("latency".into(), f64::INFINITY)]),
        });
        let two = compare(
            &b,
            &c,
            &CompareConfig { resamples: 0, confidence: 7.0, ..CompareConfig::recommended(1) },
        );
        assert_eq!(
            two.metrics.iter().map(|m| (m.metric.as_str(), m.baseline_n)).collect::<Vec<_>>(),
            vec![("latency", 0), ("task_completion_rate", 0)]
        );
    }

    #[test]
    fn custom_directions_override_the_default() {
        let mut config = CompareConfig::recommended(5);
        config.directions.insert("cost_usd".into(), Direction::LowerIsBetter);
        let c =
            compare(&window("b", "cost_usd", 1.0, 20), &window("c", "cost_usd", 2.0, 20), &config);
        assert_eq!(c.metrics[0].verdict, Verdict::Regressed);
    }
}
