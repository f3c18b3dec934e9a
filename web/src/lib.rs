//! Reverie's review dashboard: a Leptos app rendered in the browser. It
//! talks to the worker's `/api/v1` through `api`, keeps what it read and
//! the reviewer's decisions in IndexedDB through `cache` and `sync`, and
//! uses the same core as the service for word diffs and config checks.
//!
//! Screens, one module each: `agents` (the list and one agent's settings,
//! passes and proposals), `review` (a proposal, change by change),
//! `history` (a store's versions, audit log and rollback), `outcomes`
//! (metrics over time and the before/after comparison), `imports` (memory
//! files in, and written back out).

mod agents;
mod api;
mod cache;
mod connection;
mod history;
mod imports;
mod outcomes;
mod review;
mod route;
mod sync;
mod token;
mod widgets;

use leptos::prelude::*;
use wasm_bindgen::prelude::wasm_bindgen;

use crate::api::Me;
use crate::route::Route;
use reverie_api::Role;

/// Entry point run by the wasm-bindgen glue when `index.html` loads the app.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

/// Who is signed in, shared with every screen.
#[derive(Clone, Copy)]
pub struct Session {
    pub me: RwSignal<Option<Me>>,
    /// Why the reviewer was signed out, for the sign-in screen to say.
    pub signed_out: RwSignal<Option<&'static str>>,
}

impl Session {
    pub fn is_admin(&self) -> bool {
        self.me.with(|m| m.as_ref().is_some_and(|m| m.role == Role::Admin))
    }

    pub fn can_review(&self) -> bool {
        self.me.with(|m| m.as_ref().is_some_and(|m| m.role != Role::Ingest))
    }

    /// Whether the token may write memory (import files): reviewers'
    /// tokens only decide.
    pub fn can_ingest(&self) -> bool {
        self.me.with(|m| m.as_ref().is_some_and(|m| m.role != Role::Reviewer))
    }

    /// Forgets the token and who it was; `why` is said on the sign-in
    /// screen.
    pub fn sign_out(&self, why: Option<&'static str>) {
        api::set_token(None);
        self.me.set(None);
        self.signed_out.set(why);
    }
}

#[component]
fn App() -> impl IntoView {
    let session = Session { me: RwSignal::new(None), signed_out: RwSignal::new(None) };
    provide_context(session);
    // The service refused the token (revoked or expired): the old role
    // is not shown a moment longer, and the sign-in screen says why.
    let refused = api::token_refused();
    Effect::new(move |first: Option<()>| {
        refused.track();
        if first.is_some() && session.me.get_untracked().is_some() {
            session.sign_out(Some(
                "Your token is no longer accepted (revoked or expired): sign in again.",
            ));
        }
    });
    connection::watch(|| async {
        let _ = api::health().await;
    });
    let sync = sync::SyncState::start(Signal::derive(move || session.me.with(|m| m.is_some())));
    provide_context(sync);
    let route = route::watch();
    // Each screen has a title of its own, for tabs, history and screen
    // readers.
    Effect::new(move |_| {
        let title = match (session.me.with(Option::is_some), route.get()) {
            (false, _) => "Sign in".to_string(),
            (_, Route::Agents) => "Agents".to_string(),
            (_, Route::Agent(id)) => format!("Agent {id}"),
            (_, Route::Proposal(id)) => format!("Proposal {id}"),
            (_, Route::History(store)) => format!("History of {store}"),
            (_, Route::Outcomes(agent)) => format!("Outcomes of {agent}"),
            (_, Route::Import(agent)) => format!("Import and export for {agent}"),
            (_, Route::NotFound(_)) => "Nothing here".to_string(),
        };
        document().set_title(&format!("{title} · Reverie"));
    });

    // A token kept from earlier in this tab: check who it is (offline, the
    // last known answer is used).
    if api::token().is_some() {
        leptos::task::spawn_local(async move {
            match api::me().await {
                Ok((me, _)) => session.me.set(Some(me)),
                Err(e) if e.status() == Some(401) => session.sign_out(None),
                Err(_) => {}
            }
        });
    }

    view! {
        <a class="skip" href="#main">"Skip to content"</a>
        <header class="topbar">
            <a class="brand" href="#/">"Reverie"</a>
            <nav aria-label="Main">
                <a href="#/">"Agents"</a>
            </nav>
            <sync::Status/>
            <Who/>
        </header>
        <main id="main" tabindex="-1">
            {move || {
                if session.me.get().is_none() {
                    return view! { <SignIn/> }.into_any();
                }
                match route.get() {
                    Route::Agents => view! { <agents::AgentList/> }.into_any(),
                    Route::Agent(id) => view! { <agents::AgentPage id/> }.into_any(),
                    Route::Proposal(id) => view! { <review::Review id/> }.into_any(),
                    Route::History(store) => view! { <history::History store/> }.into_any(),
                    Route::Outcomes(agent) => view! { <outcomes::Outcomes agent/> }.into_any(),
                    Route::Import(agent) => view! { <imports::ImportExport agent/> }.into_any(),
                    Route::NotFound(path) => view! {
                        <section class="empty-state" role="alert">
                            <h1>"Nothing here"</h1>
                            <p>{format!("There is no page at {path}. ")}<a href="#/">"Go to the agents."</a></p>
                        </section>
                    }.into_any(),
                }
            }}
        </main>
    }
}

/// The signed-in role, and signing out.
#[component]
fn Who() -> impl IntoView {
    let session = expect_context::<Session>();
    let sign_out = move |_| {
        session.sign_out(None);
        route::go("#/");
    };
    move || {
        session.me.get().map(|me| {
            view! {
                <span class="who" data-testid="who">
                    <span class="role">{me.role.as_str()}</span>" · "{me.label.clone()}
                </span>
                <button class="link" on:click=sign_out>"Sign out"</button>
            }
        })
    }
}

/// Sign in with an API token; it is kept in this tab's session storage.
#[component]
fn SignIn() -> impl IntoView {
    let session = expect_context::<Session>();
    let token = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let t = token.get_untracked().trim().to_string();
        if t.is_empty() {
            error.set(Some("Paste the API token you were given.".into()));
            return;
        }
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            api::set_token(Some(&t));
            match api::me().await {
                Ok((me, _)) => {
                    session.signed_out.set(None);
                    session.me.set(Some(me));
                }
                Err(e) => {
                    api::set_token(None);
                    error.set(Some(match e.status() {
                        Some(401) => {
                            "That token was not accepted: check it, or ask an admin for a new one."
                                .into()
                        }
                        _ => e.to_string(),
                    }));
                }
            }
            busy.set(false);
        });
    };
    view! {
        <section class="signin" aria-labelledby="signin-title">
            <h1 id="signin-title">"Sign in"</h1>
            {move || session.signed_out.get().map(|why| view! {
                <p class="notice error" role="alert" data-testid="signed-out">{why}</p>
            })}
            <p class="muted">"Reverie's API tokens have a role: admins manage everything, reviewers review the agents they are granted."</p>
            <form on:submit=submit>
                <label for="token">"API token"</label>
                <input id="token" name="token" type="password" autocomplete="off" required
                    aria-describedby="token-error"
                    prop:value=move || token.get()
                    on:input=move |ev| token.set(event_target_value(&ev))/>
                <button type="submit" disabled=move || busy.get()>
                    {move || if busy.get() { "Signing in…" } else { "Sign in" }}
                </button>
                <p id="token-error" class="error" role="alert">{move || error.get()}</p>
            </form>
        </section>
    }
}
