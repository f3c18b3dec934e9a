//! Small pieces several screens use: word diffs, times, the "offline copy"
//! note, error and loading states.

use leptos::prelude::*;
use reverie_core::diff::{DiffSpan, DiffTag};

use crate::api::{ApiError, Source};
use crate::connection;

/// A word diff: deletions struck through, insertions underlined, each
/// also marked for screen readers.
#[component]
pub fn Diff(spans: Vec<DiffSpan>) -> impl IntoView {
    view! {
        <p class="diff">
            {spans.into_iter().map(|s| match s.tag {
                DiffTag::Equal => view! { <span>{s.text}</span> }.into_any(),
                DiffTag::Delete => view! { <del><span class="sr-only">"removed: "</span>{s.text}</del> }.into_any(),
                DiffTag::Insert => view! { <ins><span class="sr-only">"added: "</span>{s.text}</ins> }.into_any(),
            }).collect_view()}
        </p>
    }
}

/// `YYYY-MM-DD HH:MM` in UTC.
pub fn utc(epoch_ms: i64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(epoch_ms as f64));
    date.to_iso_string()
        .as_string()
        .unwrap_or_default()
        .replace('T', " ")
        .chars()
        .take(16)
        .collect::<String>()
        + " UTC"
}

/// Says when the data shown is the copy saved on this device: offline, or
/// while the current one is on its way.
#[component]
pub fn SourceNote(source: RwSignal<Source>) -> impl IntoView {
    move || {
        match source.get() {
        Source::Cache => Some(view! {
            <p class="badge offline" data-testid="offline-copy" role="status">
                {move || connection::current().get().label().unwrap_or("Not refreshed")}
                " · showing the copy saved on this device"
            </p>
        }.into_any()),
        Source::Saved => Some(view! {
            <p class="muted refreshing" data-testid="saved-copy" role="status">"Showing the saved copy · refreshing…"</p>
        }.into_any()),
        Source::Live => None,
    }
    }
}

/// A failed load, worded for the reader, with what to do next: Retry
/// where trying again may help.
#[component]
pub fn Failure(error: ApiError, #[prop(optional)] what: Option<&'static str>) -> impl IntoView {
    let (hint, retry) = match &error {
        ApiError::Network(_) => (
            "Nothing of this is saved on this device yet. It loads once the service can be reached again.",
            true,
        ),
        ApiError::Status { status: 401, .. } => ("Sign in again with a valid token.", false),
        ApiError::Status { status: 403, .. } => {
            ("Your token is not granted this agent: ask an admin for access.", false)
        }
        ApiError::Status { status: 404, .. } => {
            ("It may have been deleted, or the link is wrong.", false)
        }
        _ => ("This may pass: try again in a moment.", true),
    };
    view! {
        <div class="failure" role="alert" data-testid="failure">
            {what.map(|w| view! { <h1>{format!("Could not load {w}")}</h1> })}
            <p class="error">{sentence(&error.to_string())}</p>
            <p class="muted">{hint}</p>
            {retry.then(|| view! {
                <button data-testid="retry" on:click=move |_| crate::api::retry()>"Retry"</button>
            })}
        </div>
    }
}

/// Words as a sentence: a capital first, a full stop last.
pub fn sentence(words: &str) -> String {
    let mut chars = words.trim().chars();
    let mut out: String = chars.next().map(|c| c.to_uppercase().collect()).unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with(['.', '!', '?', ')']) {
        out.push('.');
    }
    out
}

/// A read as a view: "Loading …" until it answers, its failure worded for
/// the reader, else `done` of what it read.
pub fn loaded<T: 'static>(
    what: &'static str,
    state: impl Fn() -> Option<Result<T, ApiError>> + Send + Sync + 'static,
    done: impl Fn(T) -> AnyView + Send + Sync + 'static,
) -> impl IntoView {
    move || match state() {
        None => view! { <Loading what/> }.into_any(),
        Some(Err(e)) => view! { <Failure error=e what/> }.into_any(),
        Some(Ok(data)) => done(data),
    }
}

#[component]
pub fn Loading(#[prop(into)] what: String) -> impl IntoView {
    view! { <p class="muted loading" aria-busy="true">{format!("Loading {what}…")}</p> }
}
