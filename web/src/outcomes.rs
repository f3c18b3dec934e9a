//! Did dreaming help? Each metric per session over time, drawn as SVG with
//! the store's versions marked; a baseline-versus-candidate comparison with
//! effect size and confidence interval (computed by the core on the
//! service); and a banner offering the rollback when a metric regressed.

use std::collections::BTreeMap;

use leptos::prelude::*;
use reverie_core::outcomes::{MetricComparison, SessionMetrics, Verdict};

use crate::api::{self, PassMark};
use crate::widgets::{loaded, utc, SourceNote};
use crate::Session;
use reverie_api::Marker;

const DAY: i64 = 86_400_000;

#[component]
pub fn Outcomes(agent: String) -> impl IntoView {
    let since = js_sys::Date::now() as i64 - 30 * DAY;
    let data = api::outcomes(agent.clone(), since);
    let source = data.source;
    view! {
        <nav class="crumbs" aria-label="Breadcrumb">
            <a href="#/">"Agents"</a>" › "<a href=format!("#/agents/{agent}")>{agent.clone()}</a>" › outcomes"
        </nav>
        <h1>"Outcomes of "<span class="mono">{agent.clone()}</span></h1>
        {loaded("metrics", move || data.data.get(), move |o| {
                let metrics = by_metric(&o.sessions);
                view! {
                    <SourceNote source/>
                    <Compare agent=agent.clone() store=o.store_id.clone() markers=o.markers.clone()/>
                    {if metrics.is_empty() {
                        view! { <p class="empty-state">"No session metrics in the last 30 days. Send them with each session (metrics) or later (…/sessions/{id}/metrics)."</p> }.into_any()
                    } else {
                        view! {
                            <div class="charts">
                                {metrics.into_iter().map(|(name, points)| view! {
                                    <Chart name points markers=o.markers.clone() passes=o.passes.clone()/>
                                }).collect_view()}
                            </div>
                        }.into_any()
                    }}
                }.into_any()
            })}
    }
}

/// Each metric's (time, value) points, in time order.
fn by_metric(sessions: &[SessionMetrics]) -> BTreeMap<String, Vec<(i64, f64)>> {
    let mut out: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    for s in sessions {
        for (name, v) in &s.values {
            out.entry(name.clone()).or_default().push((s.at, *v));
        }
    }
    for points in out.values_mut() {
        points.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    }
    out
}

const W: f64 = 640.0;
const H: f64 = 180.0;
const PAD_L: f64 = 56.0;
const PAD_R: f64 = 12.0;
const PAD_T: f64 = 14.0;
const PAD_B: f64 = 28.0;

fn short(v: f64) -> String {
    if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// One metric as a line of points over time, with a vertical mark at each
/// new store version.
#[component]
fn Chart(
    name: String,
    points: Vec<(i64, f64)>,
    markers: Vec<Marker>,
    passes: Vec<PassMark>,
) -> impl IntoView {
    let times = || {
        points
            .iter()
            .map(|p| p.0)
            .chain(markers.iter().map(|m| m.at))
            .chain(passes.iter().map(|p| p.at))
    };
    let t0 = times().min().unwrap_or(0);
    let t1 = times().max().unwrap_or(1).max(t0 + 1);
    let (mut lo, mut hi) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    if !lo.is_finite() || (hi - lo).abs() < f64::EPSILON {
        lo -= 1.0;
        hi += 1.0;
    }
    let x = move |t: i64| PAD_L + (t - t0) as f64 / (t1 - t0) as f64 * (W - PAD_L - PAD_R);
    let y = move |v: f64| PAD_T + (hi - v) / (hi - lo) * (H - PAD_T - PAD_B);
    let line: String = points
        .iter()
        .map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v)))
        .collect::<Vec<_>>()
        .join(" ");
    let label = format!(
        "{name}: {} sessions from {} to {}, values {} to {}",
        points.len(),
        utc(t0),
        utc(t1),
        short(lo),
        short(hi)
    );
    let aria = label.clone();
    view! {
        <figure class="chart" data-testid="chart" data-metric=name.clone()>
            <figcaption>{name.clone()}</figcaption>
            <svg viewBox=format!("0 0 {W} {H}") role="img" aria-label=aria preserveAspectRatio="xMidYMid meet">
                <title>{label}</title>
                <line class="axis" x1=PAD_L y1=PAD_T x2=PAD_L y2=H - PAD_B/>
                <line class="axis" x1=PAD_L y1=H - PAD_B x2=W - PAD_R y2=H - PAD_B/>
                <text class="tick" x=PAD_L - 6.0 y=PAD_T + 4.0 text-anchor="end">{short(hi)}</text>
                <text class="tick" x=PAD_L - 6.0 y=H - PAD_B text-anchor="end">{short(lo)}</text>
                <text class="tick" x=PAD_L y=H - 8.0>{utc(t0)}</text>
                <text class="tick" x=W - PAD_R y=H - 8.0 text-anchor="end">{utc(t1)}</text>
                {markers.iter().map(|m| {
                    let mx = x(m.at);
                    view! {
                        <g class=format!("marker {}", m.cause) data-testid="chart-marker">
                            <line x1=mx y1=PAD_T x2=mx y2=H - PAD_B/>
                            <text x=mx + 3.0 y=PAD_T + 10.0>{format!("v{} {}", m.version, m.cause)}</text>
                        </g>
                    }
                }).collect_view()}
                {passes.iter().map(|p| {
                    let px = x(p.at);
                    view! {
                        <g class="pass-mark" data-testid="chart-pass">
                            <line x1=px y1=H - PAD_B - 8.0 x2=px y2=H - PAD_B/>
                            <title>{format!("pass #{} ({}) at {}", p.id, p.status, utc(p.at))}</title>
                        </g>
                    }
                }).collect_view()}
                <polyline class="series" points=line/>
                {points.iter().map(|(t, v)| view! {
                    <circle class="point" cx=x(*t) cy=y(*v) r="3"><title>{format!("{} · {}", utc(*t), short(*v))}</title></circle>
                }).collect_view()}
            </svg>
        </figure>
    }
}

/// Baseline against candidate, by store version.
#[component]
fn Compare(agent: String, store: String, markers: Vec<Marker>) -> impl IntoView {
    let session = expect_context::<Session>();
    let latest = markers.iter().map(|m| m.version).max().unwrap_or(0);
    let candidate = RwSignal::new(latest);
    let baseline = RwSignal::new((latest - 1).max(0));
    let versions: Vec<i64> = (0..=latest).rev().collect();
    let result = {
        let agent = agent.clone();
        LocalResource::new(move || {
            let (agent, b, c) = (agent.clone(), baseline.get(), candidate.get());
            async move { api::compare(&agent, &format!("v{b}"), &format!("v{c}")).await }
        })
    };
    let rolled = RwSignal::new(None::<Result<String, String>>);
    let confirming = RwSignal::new(false);
    let do_rollback = move |to: i64| {
        let store = store.clone();
        leptos::task::spawn_local(async move {
            let r = api::rollback(&store, to, None, "outcomes regressed").await;
            rolled.set(Some(
                r.map(|r| format!("Rolled back: version {} equals v{to}.", r.version))
                    .map_err(|e| e.to_string()),
            ));
            confirming.set(false);
        });
    };
    let options = move |chosen: RwSignal<i64>| {
        versions
            .iter()
            .map(|v| {
                let v = *v;
                view! { <option value=v.to_string() selected=move || chosen.get() == v>{format!("v{v}")}</option> }
            })
            .collect_view()
    };
    view! {
        <section class="panel" aria-labelledby="compare-title" data-testid="compare">
            <h3 id="compare-title">"Before and after"</h3>
            <p class="controls">
                <label for="baseline">"Baseline: sessions under "</label>
                <select id="baseline" on:change=move |ev| baseline.set(event_target_value(&ev).parse().unwrap_or(0))>{options(baseline)}</select>
                <label for="candidate">" against "</label>
                <select id="candidate" on:change=move |ev| candidate.set(event_target_value(&ev).parse().unwrap_or(0))>{options(candidate)}</select>
            </p>
            {loaded("the comparison", move || result.get(), move |c| {
                    let to = c.rollback_to;
                    let do_rollback = do_rollback.clone();
                    view! {
                        {c.regressed.then(|| view! {
                            <div class="banner regression" role="alert" data-testid="regression-banner">
                                <strong>{format!("Regression: {} got worse", c.comparison.regressions.join(", "))}</strong>
                                {format!(" with the sessions under v{} compared to v{}.", candidate.get_untracked(), baseline.get_untracked())}
                                {to.filter(|_| session.can_review()).map(|to| view! {
                                    " " <button data-testid="regression-rollback" on:click=move |_| confirming.set(true)>{format!("Roll back to v{to}")}</button>
                                    {let do_rollback = do_rollback.clone(); move || confirming.get().then(|| {
                                        let do_rollback = do_rollback.clone();
                                        view! {
                                            <span class="confirm" role="alertdialog" aria-label="Confirm rollback">
                                                {format!(" A new version equal to v{to} will be made. ")}
                                                <button data-testid="confirm-rollback" on:click=move |_| do_rollback(to)>"Roll back"</button>
                                                <button class="link" on:click=move |_| confirming.set(false)>"Cancel"</button>
                                            </span>
                                        }
                                    })}
                                })}
                            </div>
                        })}
                        {move || rolled.get().map(|r| match r {
                            Ok(m) => view! { <p class="ok" role="status">{m}</p> }.into_any(),
                            Err(m) => view! { <p class="error" role="alert">{m}</p> }.into_any(),
                        })}
                        <p class="muted">{format!(
                            "{} baseline and {} candidate sessions. ",
                            c.baseline.sessions,
                            c.candidate.sessions
                        )}{c.comparison.metrics.first().map(|m| format!("The rule: {}.", m.rule.trim_end_matches('.')))}</p>
                        <div class="table-wrap" tabindex="0" role="region" aria-label="Comparison by metric">
                            <table data-testid="comparison">
                                <thead><tr>
                                    <th scope="col">"Metric"</th><th scope="col">"Baseline"</th><th scope="col">"Candidate"</th>
                                    <th scope="col">"Difference (95% CI)"</th><th scope="col">"Effect size g"</th><th scope="col">"Verdict"</th>
                                </tr></thead>
                                <tbody>{c.comparison.metrics.into_iter().map(|m| view! { <MetricRow m/> }).collect_view()}</tbody>
                            </table>
                        </div>
                    }.into_any()
                })}
        </section>
    }
}

#[component]
fn MetricRow(m: MetricComparison) -> impl IntoView {
    let verdict = match m.verdict {
        Verdict::Improved => "improved",
        Verdict::Regressed => "regressed",
        Verdict::NoClearChange => "no clear change",
        Verdict::InsufficientData => "too few sessions",
    };
    view! {
        <tr data-testid="metric-row">
            <th scope="row">{m.metric.clone()}</th>
            <td>{format!("{} (n={})", short(m.baseline_mean), m.baseline_n)}</td>
            <td>{format!("{} (n={})", short(m.candidate_mean), m.candidate_n)}</td>
            <td>{format!("{} [{}, {}]", short(m.difference), short(m.ci_low), short(m.ci_high))}</td>
            <td>{format!("{:.2}", m.effect_size)}</td>
            <td class=format!("verdict {}", verdict.replace(' ', "-"))>{verdict}</td>
        </tr>
    }
}
