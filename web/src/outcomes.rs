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
use reverie_web_state::chart::layout;

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

const W: f64 = 360.0;
const H: f64 = 200.0;
const PAD_L: f64 = 42.0;
const PAD_R: f64 = 8.0;
const PAD_T: f64 = 10.0;
const PAD_B: f64 = 34.0;

fn short(v: f64) -> String {
    if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// One metric's sessions, placed by the store version they ran under (see
/// `reverie_web_state::chart`): a band per version, labelled under the
/// axis, a dashed line where a version begins, the line broken between
/// versions, passes marked on the axis, and a legend. The chart is drawn
/// narrow so its labels stay readable when it fills a phone.
#[component]
fn Chart(
    name: String,
    points: Vec<(i64, f64)>,
    markers: Vec<Marker>,
    passes: Vec<PassMark>,
) -> impl IntoView {
    let l = layout(&points, &markers, &passes);
    let x = |f: f64| PAD_L + f * (W - PAD_L - PAD_R);
    let (low, high) = (l.low, l.high);
    let y = move |v: f64| PAD_T + (high - v) / (high - low) * (H - PAD_T - PAD_B);
    let versions = match (l.bands.first(), l.bands.last()) {
        (Some(a), Some(b)) if a.version != b.version => {
            format!("versions v{} to v{}", a.version, b.version)
        }
        (Some(a), _) => format!("version v{}", a.version),
        _ => "no version".to_string(),
    };
    let label = format!(
        "{name}: {} sessions under {versions}, values {} to {}",
        l.points.len(),
        short(low),
        short(high)
    );
    let aria = label.clone();
    let lines: Vec<String> = (0..l.bands.len())
        .map(|b| {
            l.points
                .iter()
                .filter(|p| p.band == b)
                .map(|p| format!("{:.1},{:.1}", x(p.x), y(p.value)))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    view! {
        <figure class="chart" data-testid="chart" data-metric=name.clone()>
            <figcaption>{name.clone()}</figcaption>
            <svg viewBox=format!("0 0 {W} {H}") role="img" aria-label=aria preserveAspectRatio="xMidYMid meet">
                <title>{label}</title>
                {l.bands.iter().enumerate().map(|(k, b)| {
                    let (x0, x1) = (x(b.from), x(b.to));
                    let mid = (x0 + x1) / 2.0;
                    let what = b.cause.clone().map_or_else(
                        || format!("v{}: in effect when the window opens", b.version),
                        |c| format!("v{}: made by {c}", b.version),
                    );
                    view! {
                        <g class=if k % 2 == 0 { "band" } else { "band odd" } data-testid="chart-band">
                            <rect x=x0 y=PAD_T width=x1 - x0 height=H - PAD_T - PAD_B><title>{what}</title></rect>
                            <text class="band-label" x=mid y=H - PAD_B + 16.0 text-anchor="middle">{format!("v{}", b.version)}</text>
                            {(b.sessions == 0).then(|| {
                                // Upright, so it fits a band one session wide.
                                let cy = (PAD_T + H - PAD_B) / 2.0;
                                view! {
                                    <text class="empty" x=mid y=cy text-anchor="middle" dominant-baseline="middle"
                                        transform=format!("rotate(-90 {mid:.1} {cy:.1})") data-testid="chart-empty">"no sessions"</text>
                                }
                            })}
                            {b.cause.as_ref().map(|c| view! {
                                <g class=format!("marker {c}") data-testid="chart-marker">
                                    <line x1=x0 y1=PAD_T x2=x0 y2=H - PAD_B/>
                                </g>
                            })}
                        </g>
                    }
                }).collect_view()}
                {l.ticks().into_iter().map(|v| view! {
                    <line class="grid" x1=PAD_L y1=y(v) x2=W - PAD_R y2=y(v)/>
                    <text class="tick" x=PAD_L - 4.0 y=y(v) + 4.0 text-anchor="end">{short(v)}</text>
                }).collect_view()}
                <line class="axis" x1=PAD_L y1=H - PAD_B x2=W - PAD_R y2=H - PAD_B/>
                <text class="tick" x=PAD_L y=H - 4.0>"store version"</text>
                {l.passes.iter().map(|(f, p)| {
                    let px = x(*f);
                    view! {
                        <g class="pass-mark" data-testid="chart-pass">
                            <line x1=px y1=H - PAD_B - 8.0 x2=px y2=H - PAD_B/>
                            <title>{format!("pass #{} ({}) at {}", p.id, p.status, utc(p.at))}</title>
                        </g>
                    }
                }).collect_view()}
                {lines.into_iter().filter(|l| !l.is_empty()).map(|points| view! {
                    <polyline class="series" points=points/>
                }).collect_view()}
                {l.points.iter().map(|p| view! {
                    <circle class="point" cx=x(p.x) cy=y(p.value) r="3"><title>{format!("{} · {}", utc(p.at), short(p.value))}</title></circle>
                }).collect_view()}
            </svg>
            <ul class="legend" data-testid="chart-legend">
                <li><span class="swatch point" aria-hidden="true"></span>"a session's value"</li>
                <li><span class="swatch marker" aria-hidden="true"></span>"a new store version"</li>
                <li><span class="swatch pass" aria-hidden="true"></span>"a pass"</li>
            </ul>
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
    // An empty window has no mean, and a difference needs both.
    let mean = |v: f64, n: usize| {
        if n == 0 {
            "no sessions".to_string()
        } else {
            format!("{} (n={n})", short(v))
        }
    };
    let compared = m.baseline_n > 0 && m.candidate_n > 0;
    view! {
        <tr data-testid="metric-row">
            <th scope="row">{m.metric.clone()}</th>
            <td>{mean(m.baseline_mean, m.baseline_n)}</td>
            <td>{mean(m.candidate_mean, m.candidate_n)}</td>
            <td>{if compared { format!("{} [{}, {}]", short(m.difference), short(m.ci_low), short(m.ci_high)) } else { "—".to_string() }}</td>
            <td>{if compared { format!("{:.2}", m.effect_size) } else { "—".to_string() }}</td>
            <td class=format!("verdict {}", verdict.replace(' ', "-"))>{verdict}</td>
        </tr>
    }
}
