//! The list of consolidation passes, live when the service answers and from
//! the offline cache when it does not.

use leptos::prelude::*;

use crate::api::{self, ApiError, Pass, PassList};
use crate::cache;

const CACHE_KEY: &str = "GET /api/v1/passes";

/// Where the list on screen came from.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Source {
    Live,
    Cache,
}

async fn load() -> Result<(Vec<Pass>, Source), String> {
    match api::passes().await {
        Ok((list, body)) => {
            // A failed cache write costs only the offline copy; the live
            // list is still shown, so the error is logged, not raised.
            if let Err(err) = cache::put(CACHE_KEY, &body).await {
                leptos::logging::warn!("{err}");
            }
            Ok((list.passes, Source::Live))
        }
        Err(ApiError::Network(net)) => match cache::get(CACHE_KEY).await? {
            Some(body) => {
                let list: PassList =
                    serde_json::from_str(&body).map_err(|e| format!("the offline copy is unreadable: {e}"))?;
                Ok((list.passes, Source::Cache))
            }
            None => Err(format!("no connection to the service ({net}) and no offline copy yet")),
        },
        Err(other) => Err(other.to_string()),
    }
}

#[component]
pub fn PassList() -> impl IntoView {
    let passes = LocalResource::new(load);
    view! {
        <section class="passes" aria-labelledby="passes-title">
            <h2 id="passes-title">"Consolidation passes"</h2>
            {move || match passes.get() {
                None => view! { <p class="muted">"Loading passes…"</p> }.into_any(),
                Some(Err(err)) => view! { <p class="error" role="alert">{err}</p> }.into_any(),
                Some(Ok((list, source))) => view! {
                    {(source == Source::Cache).then(|| view! {
                        <p class="badge offline" data-testid="offline-badge">
                            "Offline · showing the last list saved on this device"
                        </p>
                    })}
                    <PassTable passes=list/>
                }.into_any(),
            }}
        </section>
    }
}

#[component]
fn PassTable(passes: Vec<Pass>) -> impl IntoView {
    if passes.is_empty() {
        return view! { <p class="muted" data-testid="no-passes">"No passes yet."</p> }.into_any();
    }
    view! {
        <table data-testid="pass-table">
            <thead>
                <tr><th scope="col">"Pass"</th><th scope="col">"Agent"</th><th scope="col">"Trigger"</th><th scope="col">"Status"</th><th scope="col">"Started (UTC)"</th></tr>
            </thead>
            <tbody>
                {passes.into_iter().map(|p| view! {
                    <tr data-testid="pass-row">
                        <td>{format!("#{}", p.id)}</td>
                        <td>{p.agent_id}</td>
                        <td>{p.trigger}</td>
                        <td>{p.status}</td>
                        <td>{utc_time(p.started_at)}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

fn utc_time(epoch_ms: f64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(epoch_ms));
    date.to_iso_string().as_string().unwrap_or_default().replace('T', " ").chars().take(19).collect()
}
