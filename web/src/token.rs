//! The token this tab signed in with, in session storage: read by every
//! request and by the offline cache, which keys what it keeps by it.

const TOKEN_KEY: &str = "reverie.token";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

/// The token this tab signed in with (kept for the tab's life only).
pub fn get() -> Option<String> {
    storage()?.get_item(TOKEN_KEY).ok().flatten().filter(|t| !t.is_empty())
}

/// Signs this tab in with `token`, or out with `None`.
pub fn set(token: Option<&str>) {
    if let Some(s) = storage() {
        let _ = match token {
            Some(t) => s.set_item(TOKEN_KEY, t),
            None => s.remove_item(TOKEN_KEY),
        };
    }
}
