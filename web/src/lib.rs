//! Reverie's review dashboard: a Leptos app rendered in the browser, talking
//! to the worker's `/api/v1` through `api`, caching in IndexedDB through
//! `cache` so a reviewer with a flaky connection still sees their data.

mod api;
mod cache;
mod passes;

use leptos::prelude::*;
use wasm_bindgen::prelude::wasm_bindgen;

/// Entry point run by the wasm-bindgen glue when `index.html` loads the app.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

#[component]
fn App() -> impl IntoView {
    view! {
        <header class="topbar">
            <h1>"Reverie"</h1>
            <HealthBadge/>
        </header>
        <main>
            <passes::PassList/>
        </main>
    }
}

/// The service's health in one line: engine version and storage latency.
#[component]
fn HealthBadge() -> impl IntoView {
    let health = LocalResource::new(api::health);
    view! {
        <p class="health" data-testid="health">
            {move || match health.get() {
                None => "Checking service…".to_string(),
                Some(Ok(h)) => format!(
                    "Service OK · core {} · D1 {:.0} ms · {} agent(s)",
                    h.core_version, h.d1.roundtrip_ms, h.d1.agents
                ),
                Some(Err(err)) => format!("Service unreachable: {err}"),
            }}
        </p>
    }
}
