//! The dashboard's pages, addressed by the URL's hash (`#/agents/a1`), so
//! every page is a link, the back button works, and the offline app shell
//! serves them all from one cached `index.html`.

use leptos::prelude::*;

#[derive(Clone, Debug, PartialEq)]
pub enum Route {
    Agents,
    /// One agent: settings, passes, proposals.
    Agent(String),
    Proposal(String),
    /// A store's versions and audit log.
    History(String),
    /// An agent's outcome metrics.
    Outcomes(String),
    /// Importing an agent's memory files, and exporting them back.
    Import(String),
    NotFound(String),
}

impl Route {
    pub fn parse(hash: &str) -> Route {
        let path = hash.trim_start_matches('#').trim_start_matches('/');
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        match parts.as_slice() {
            [] | ["agents"] => Route::Agents,
            ["agents", id] => Route::Agent(id.to_string()),
            ["agents", id, "outcomes"] => Route::Outcomes(id.to_string()),
            ["agents", id, "import"] => Route::Import(id.to_string()),
            ["proposals", id] => Route::Proposal(id.to_string()),
            ["stores", id, "history"] => Route::History(id.to_string()),
            _ => Route::NotFound(format!("/{path}")),
        }
    }
}

fn current() -> Route {
    Route::parse(&window().location().hash().unwrap_or_default())
}

/// The current route, following the hash.
pub fn watch() -> ReadSignal<Route> {
    let (route, set_route) = signal(current());
    let handle = window_event_listener(leptos::ev::hashchange, move |_| {
        set_route.set(current());
        // New page: reading starts at the top, and focus moves to it.
        window().scroll_to_with_x_and_y(0.0, 0.0);
        if let Some(main) = document().get_element_by_id("main") {
            use wasm_bindgen::JsCast;
            if let Ok(el) = main.dyn_into::<web_sys::HtmlElement>() {
                let _ = el.focus();
            }
        }
    });
    on_cleanup(move || handle.remove());
    route
}

pub fn go(hash: &str) {
    let _ = window().location().set_hash(hash);
}
