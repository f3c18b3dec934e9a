//! Whether the service can be reached, judged from what requests actually
//! do rather than from `navigator.onLine`, which says "online" behind a
//! captive portal, on a network that cannot reach the service, when the
//! service is down, and (in some browsers) in a page reloaded while
//! offline. Every answer `api::send` gets, or fails to get, is reported
//! here; the browser's `online`/`offline` events only prompt a check.

use std::cell::Cell;
use std::time::Duration;

use leptos::prelude::*;

/// What the dashboard knows of its connection to the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connection {
    /// The last request was answered.
    Online,
    /// Requests fail at the network level and the browser says it has no
    /// network.
    Offline,
    /// Requests fail although the browser says it has a network, or a
    /// gateway answers for a service that is down.
    Unreachable,
}

/// What one request came to, as far as the connection is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The service answered (any status of its own, errors included).
    Answered,
    /// A gateway answered that the service is down (502, 503, 504 without
    /// the service's own error body).
    GatewayDown,
    /// No answer at all: DNS, refused, reset, offline.
    NoAnswer,
}

impl Connection {
    /// The connection after a request's `outcome`, given whether the
    /// browser believes it has a network.
    pub fn after(outcome: Outcome, browser_online: bool) -> Connection {
        match outcome {
            Outcome::Answered => Connection::Online,
            Outcome::GatewayDown => Connection::Unreachable,
            Outcome::NoAnswer if browser_online => Connection::Unreachable,
            Outcome::NoAnswer => Connection::Offline,
        }
    }

    pub fn is_online(self) -> bool {
        self == Connection::Online
    }

    /// The badge's words, or none when online.
    pub fn label(self) -> Option<&'static str> {
        match self {
            Connection::Online => None,
            Connection::Offline => Some("Offline"),
            Connection::Unreachable => Some("Service unreachable"),
        }
    }
}

thread_local! {
    static STATE: ArcRwSignal<Connection> = ArcRwSignal::new(Connection::Online);
    static CHECKING: Cell<bool> = const { Cell::new(false) };
}

/// The connection as last observed (reactive).
pub fn current() -> ArcRwSignal<Connection> {
    STATE.with(Clone::clone)
}

fn browser_online() -> bool {
    web_sys::window().is_none_or(|w| w.navigator().on_line())
}

/// Records what a request came to.
pub fn report(outcome: Outcome) {
    let next = Connection::after(outcome, browser_online());
    STATE.with(|s| {
        if s.get_untracked() != next {
            s.set(next);
        }
    });
}

/// Runs `ask` (a request to the service's health route, whose answer or
/// silence is reported like any other request's). One check at a time.
async fn check(ask: impl std::future::Future<Output = ()>) {
    if CHECKING.with(|c| c.replace(true)) {
        return;
    }
    ask.await;
    CHECKING.with(|c| c.set(false));
}

/// How often the service is asked while it cannot be reached.
const RETRY: Duration = Duration::from_secs(3);

/// Checks at once (a page opened from the offline copy proves nothing),
/// whenever the browser reports a change of network, and every few
/// seconds while the service cannot be reached. `ask` makes the check's
/// request (the caller's: this module sends none of its own).
pub fn watch<F, Fut>(ask: F)
where
    F: Fn() -> Fut + Clone + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let spawn_check = move || leptos::task::spawn_local(check(ask()));
    spawn_check();
    let on = window_event_listener(leptos::ev::online, {
        let spawn_check = spawn_check.clone();
        move |_| spawn_check()
    });
    let off = window_event_listener(leptos::ev::offline, {
        let spawn_check = spawn_check.clone();
        move |_| spawn_check()
    });
    let state = current();
    let timer = set_interval_with_handle(
        move || {
            if !state.get_untracked().is_online() {
                spawn_check();
            }
        },
        RETRY,
    )
    .ok();
    on_cleanup(move || {
        on.remove();
        off.remove();
        if let Some(t) = timer {
            t.clear();
        }
    });
}
