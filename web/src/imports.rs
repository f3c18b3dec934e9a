//! An agent's memory files in and out: pick a folder (Claude Code's
//! `memory/`, or a project), pick files or drop them, see what will be
//! read, and import; then download the files as a version of the store
//! has them. The rules (which files, their paths, the checks before
//! sending, the sentences) are in `reverie_web_state::imports`; this
//! module does the browser's part: reading bytes and making downloads.

use leptos::prelude::*;
use leptos::tachys::html::attribute::custom::custom_attribute;
use reverie_core::formats::Format;
use reverie_web_state::imports::{
    base_name, bundle_path, count, decode, export_text, failure_hint, format_name, imported_text,
    parse_version, sessions_text, size_text, skipped_place, sort, Choice, Picked, Preview,
};
use wasm_bindgen::JsCast;

use crate::api::{self, ApiError, Imported, StoreExport};
use crate::widgets::{sentence, Failure, Loading};
use crate::Session;

#[component]
pub fn ImportExport(agent: String) -> impl IntoView {
    let data = api::agent(agent.clone());
    // The panels are built once the agent's store is known, and again
    // only if it changes, so a preview is not lost to a refresh.
    let store = Memo::new(move |_| {
        data.data.with(|d| match d {
            None => None,
            Some(Err(e)) => Some(Err(e.clone())),
            Some(Ok(a)) => Some(Ok((a.name.clone(), a.store.id.clone()))),
        })
    });
    // Bumped by each import tried, so the export shows the store as it
    // left it.
    let imported = RwSignal::new(0u32);
    let id = agent.clone();
    view! {
        <nav class="crumbs" aria-label="Breadcrumb">
            <a href="#/">"Agents"</a>" › "<a href=format!("#/agents/{agent}")>{agent.clone()}</a>
            " › import & export"
        </nav>
        <h1>"Import & export for "<span class="mono">{agent.clone()}</span></h1>
        {move || match store.get() {
            None => view! { <Loading what="the agent"/> }.into_any(),
            Some(Err(error)) => view! { <Failure error/> }.into_any(),
            Some(Ok((name, store))) => view! {
                <div class="columns">
                    <ImportPanel agent=id.clone() name imported/>
                    <ExportPanel store imported/>
                </div>
            }
            .into_any(),
        }}
    }
}

/// The files of a `FileList` (none when there is no list).
fn files_of(list: Option<web_sys::FileList>) -> Vec<web_sys::File> {
    let Some(list) = list else { return Vec::new() };
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

/// A file's path inside the folder picked, when it was picked with one
/// (web-sys does not bind `webkitRelativePath`); empty otherwise.
fn relative_path(file: &web_sys::File) -> String {
    js_sys::Reflect::get(file, &"webkitRelativePath".into())
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default()
}

/// A file's bytes, as they are: read as text, bytes that are not UTF-8
/// would be replaced without a word.
async fn bytes_of(file: &web_sys::File) -> Result<Vec<u8>, String> {
    let buffer = wasm_bindgen_futures::JsFuture::from(file.array_buffer())
        .await
        .map_err(|e| e.as_string().unwrap_or_else(|| "the browser refused".into()))?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

#[component]
fn ImportPanel(agent: String, name: String, imported: RwSignal<u32>) -> impl IntoView {
    let session = expect_context::<Session>();
    let choice = RwSignal::new(Choice::Auto);
    let preview = RwSignal::new(None::<Preview>);
    let reading = RwSignal::new(false);
    let sending = RwSignal::new(false);
    let outcome = RwSignal::new(None::<Result<Imported, ApiError>>);
    // What sending the transcripts picked did, in words.
    let sent = RwSignal::new(None::<String>);
    let dragging = RwSignal::new(false);
    // Bumped by each pick: files still being read from an earlier pick
    // are dropped when they are done.
    let picks = StoredValue::new(0u64);
    let take = move |files: Vec<web_sys::File>| {
        if files.is_empty() {
            return;
        }
        picks.update_value(|n| *n += 1);
        let mine = picks.get_value();
        outcome.set(None);
        preview.set(None);
        reading.set(true);
        let picked: Vec<Picked> = files
            .iter()
            .map(|f| Picked {
                path: bundle_path(&f.name(), &relative_path(f)),
                size: f.size() as u64,
            })
            .collect();
        let sorted = sort(&picked);
        leptos::task::spawn_local(async move {
            let mut read = Vec::with_capacity(sorted.read.len());
            let mut problems = Vec::new();
            for &i in &sorted.read {
                let path = &picked[i].path;
                match bytes_of(&files[i]).await {
                    Ok(bytes) => match decode(path, bytes) {
                        Ok(file) => read.push(file),
                        Err(why) => problems.push(why),
                    },
                    Err(why) => problems.push(format!("{path} could not be read: {why}.")),
                }
            }
            if picks.try_get_value() != Some(mine) {
                return;
            }
            preview.try_set(Some(Preview::new(read, &sorted, problems)));
            reading.try_set(false);
        });
    };
    let picked = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        let files = files_of(input.files());
        // Cleared, so picking the same folder again (after editing it)
        // reads it again.
        input.set_value("");
        take(files);
    };
    let dropped = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        take(files_of(ev.data_transfer().and_then(|d| d.files())));
    };
    let over = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        dragging.set(true);
    };
    let back = format!("#/agents/{agent}");
    let send = move |_| {
        let (request, sessions) = preview
            .with_untracked(|p| {
                p.as_ref().map(|p| (p.request(choice.get_untracked()), p.sessions()))
            })
            .unwrap_or_default();
        if request.is_none() && sessions.is_empty() {
            return;
        }
        let agent = agent.clone();
        sending.set(true);
        outcome.set(None);
        sent.set(None);
        leptos::task::spawn_local(async move {
            let answer = match &request {
                Some(request) => Some(api::import(&agent, request).await),
                None => None,
            };
            // Transcripts go once the memory is in (or alone).
            let mut said = None;
            if answer.as_ref().is_none_or(Result::is_ok) && !sessions.is_empty() {
                let (mut new, mut already, mut failed) = (0, 0, Vec::new());
                for s in &sessions {
                    match api::send_session(&agent, s).await {
                        Ok(w) if w.created || w.grew_by.is_some() => new += 1,
                        Ok(_) => already += 1,
                        Err(e) => failed.push(format!(
                            "{}: {}",
                            s.id.as_deref().unwrap_or("a transcript"),
                            sentence(&e.to_string())
                        )),
                    }
                }
                said = Some(sessions_text(new, already, &failed));
            }
            if answer.as_ref().is_none_or(Result::is_ok) {
                preview.try_set(None);
            }
            // The export is read again: after a conflict, it is the
            // version to take before importing again.
            imported.try_update(|n| *n += 1);
            sending.try_set(false);
            sent.try_set(said);
            outcome.try_set(answer);
        });
    };
    let can_import = session.can_ingest();
    view! {
        <section class="panel" aria-labelledby="import-title">
            <h2 id="import-title">"Import"</h2>
            {if can_import {
                view! {
                    <p class="muted">
                        "Pick Claude Code's memory folder or a project, pick files, or drop "
                        "them below. Markdown and text (.md, .markdown, .txt), MCP memory (.jsonl) "
                        "and mem0 or memory store listings (.json) are read; session logs "
                        "(Claude Code .jsonl, OpenAI Responses or chat .json) are sent as "
                        "sessions. Nothing is sent until you import."
                    </p>
                    <div class="drop-zone" class:dragging=move || dragging.get()
                        data-testid="drop-zone" on:dragenter=over on:dragover=over
                        on:dragleave=move |_| dragging.set(false) on:drop=dropped>
                        <p class="drop-hint" aria-hidden="true">"Drop files here, or:"</p>
                        <div class="pickers">
                            <div>
                                <label for="pick-folder">"Pick a folder"</label>
                                <input id="pick-folder" type="file" on:change=picked
                                    disabled=move || sending.get() multiple
                                    {..custom_attribute("webkitdirectory", "")}/>
                            </div>
                            <div>
                                <label for="pick-files">"Pick files"</label>
                                <input id="pick-files" type="file" multiple
                                    accept=".md,.markdown,.txt,.jsonl,.json"
                                    disabled=move || sending.get() on:change=picked/>
                            </div>
                        </div>
                    </div>
                    {move || preview.get().map(|p| view! {
                        <PreviewView preview=p choice sending send=send.clone()/>
                    })}
                }
                .into_any()
            } else {
                view! {
                    <p class="muted" data-testid="import-not-allowed">
                        "Importing needs an admin token or an ingest token; yours reviews. "
                        "Exporting is open to you."
                    </p>
                }
                .into_any()
            }}
            <div role="status" class="import-status" data-testid="import-status">
                {move || {
                    if reading.get() {
                        Some(view! { <p class="muted">"Reading the files…"</p> }.into_any())
                    } else if sending.get() {
                        Some(view! { <p class="muted">"Importing…"</p> }.into_any())
                    } else {
                        match outcome.get() {
                            Some(Ok(done)) => Some(view! {
                                <ImportDone done name=name.clone() back=back.clone()/>
                            }.into_any()),
                            _ => None,
                        }
                    }
                }}
            </div>
            {move || sent.get().map(|t| view! { <p class="ok" data-testid="sessions-done">{t}</p> })}
            {move || match outcome.get() {
                Some(Err(error)) => Some(view! { <ImportFailure error/> }),
                _ => None,
            }}
        </section>
    }
}

/// What will be sent: the files, their format, and the button; or what
/// stops it, naming the file.
#[component]
fn PreviewView(
    preview: Preview,
    choice: RwSignal<Choice>,
    sending: RwSignal<bool>,
    send: impl Fn(leptos::ev::MouseEvent) + Clone + 'static,
) -> impl IntoView {
    let left = preview.left_text();
    let empty = preview.empty_text();
    let problems = preview.problems.clone();
    let button = preview.button();
    let ready = StoredValue::new(preview.clone());
    let format_error = move || ready.with_value(|p| p.format(choice.get()).err());
    let can_send = move || ready.with_value(|p| p.sendable(choice.get()));
    view! {
        <div class="import-preview" data-testid="import-preview">
            <h3>"To import"</h3>
            {left.map(|m| view! { <p class="muted" data-testid="import-left">{m}</p> })}
            {empty.map(|m| view! { <p class="notice" data-testid="import-empty">{m}</p> })}
            {(!problems.is_empty()).then(|| view! {
                <div class="banner conflict" role="alert" data-testid="import-problems">
                    <p>"Nothing can be sent until these are fixed:"</p>
                    <ul>{problems.into_iter().map(|m| view! { <li>{m}</li> }).collect_view()}</ul>
                </div>
            })}
            {(!preview.transcripts.is_empty()).then(|| view! {
                <p data-testid="preview-sessions">{format!(
                    "Session transcripts, sent as sessions: {}",
                    preview.transcripts.iter().map(|f| f.path.as_str()).collect::<Vec<_>>().join(", ")
                )}</p>
            })}
            {preview.files.is_empty().then(|| view! {
                <div class="form-actions">
                    <button data-testid="import-send" on:click=send.clone()
                        disabled=move || sending.get() || !can_send()>{button.clone()}</button>
                </div>
            })}
            {(!preview.files.is_empty()).then(|| view! {
                <div class="table-wrap">
                    <table class="files">
                        <thead>
                            <tr><th scope="col">"File"</th><th scope="col">"Size"</th></tr>
                        </thead>
                        <tbody>
                            {preview.files.iter().map(|f| view! {
                                <tr data-testid="preview-file">
                                    <td class="mono">{f.path.clone()}</td>
                                    <td>{size_text(f.content.len() as u64)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
                <label for="import-format">"Format"</label>
                <select id="import-format" aria-describedby="import-format-said import-format-error"
                    prop:value=move || choice.get().value()
                    on:change=move |ev| choice.set(Choice::parse(&event_target_value(&ev)))>
                    <option value="auto">"Tell from the files"</option>
                    <option value="markdown">{format_name(Format::Markdown)}</option>
                    <option value="mcp_memory">{format_name(Format::McpMemory)}</option>
                    <option value="mem0">{format_name(Format::Mem0)}</option>
                    <option value="anthropic_memory_store">
                        {format_name(Format::AnthropicMemoryStore)}
                    </option>
                </select>
                <p id="import-format-said" class="muted hint" data-testid="import-format">
                    {move || {
                        format!("Read as {}.", ready.with_value(|p| p.format_text(choice.get())))
                    }}
                </p>
                <p id="import-format-error" class="error field-error">{format_error}</p>
                <div class="form-actions">
                    <button data-testid="import-send" on:click=send
                        disabled=move || sending.get() || !can_send()>{button}</button>
                </div>
            })}
        </div>
    }
}

/// What an import did: the counts, the version, and what was skipped.
#[component]
fn ImportDone(done: Imported, name: String, back: String) -> impl IntoView {
    let skipped = done.skipped.clone();
    view! {
        <div class="import-done" data-testid="import-done">
            <p class="ok" data-testid="import-summary">{imported_text(&done)}</p>
            {(!skipped.is_empty()).then(|| view! {
                <h3>{format!("Skipped ({})", skipped.len())}</h3>
                <p class="muted">"Kept in the files as they are, not read as entries:"</p>
                <ul class="skipped" data-testid="import-skipped">
                    {skipped.into_iter().map(|s| view! {
                        <li>
                            <span class="mono">{skipped_place(&s)}</span>" — "{sentence(&s.reason)}
                        </li>
                    }).collect_view()}
                </ul>
            })}
            <p><a href=back>{format!("Back to {name}")}</a></p>
        </div>
    }
}

/// A refused import: the service's words as a sentence (they name the
/// file and line), and what to do next.
#[component]
fn ImportFailure(error: ApiError) -> impl IntoView {
    let hint = failure_hint(error.status());
    view! {
        <div class="failure" role="alert" data-testid="import-failure">
            <p class="error">{sentence(&error.to_string())}</p>
            <p class="muted">{hint}</p>
        </div>
    }
}

#[component]
fn ExportPanel(store: String, imported: RwSignal<u32>) -> impl IntoView {
    let typed = RwSignal::new(String::new());
    let asked = RwSignal::new(None::<i64>);
    // Bumped by each Export press: the same version is read again.
    let asks = RwSignal::new(0u32);
    let typo = RwSignal::new(None::<String>);
    let retried = api::retried();
    let export = LocalResource::new({
        let store = store.clone();
        move || {
            imported.track();
            asks.track();
            retried.track();
            let version = asked.get();
            let store = store.clone();
            async move { api::export(&store, version).await }
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match parse_version(&typed.get_untracked()) {
            Ok(v) => {
                typo.set(None);
                asked.set(v);
                asks.update(|n| *n += 1);
            }
            Err(why) => typo.set(Some(why)),
        }
    };
    view! {
        <section class="panel" aria-labelledby="export-title">
            <h2 id="export-title">"Export"</h2>
            <p class="muted">
                "The files of the last import as a version of "
                <span class="mono">{store.clone()}</span>
                " has them: only entries a review changed differ from what was imported."
            </p>
            <form class="export-version" on:submit=submit>
                <label for="export-version">"Version (empty for the latest)"</label>
                <div class="inline">
                    <input id="export-version" inputmode="numeric" placeholder="latest"
                        aria-describedby="export-version-error" data-testid="export-version"
                        prop:value=move || typed.get()
                        on:input=move |ev| typed.set(event_target_value(&ev))/>
                    <button type="submit" data-testid="export-go">"Export"</button>
                </div>
                <p id="export-version-error" class="error field-error" role="alert">
                    {move || typo.get()}
                </p>
            </form>
            <div role="status" data-testid="export-status">
                {move || match export.get() {
                    None => view! { <Loading what="the export"/> }.into_any(),
                    Some(Ok(x)) => view! { <ExportView export=x/> }.into_any(),
                    // No import yet: the store, or its import, is not found.
                    Some(Err(e)) if e.status() == Some(404) && asked.get_untracked().is_none() => {
                        view! {
                            <p class="empty-state" data-testid="export-none">
                                "Nothing imported yet: import files, and they can be exported here."
                            </p>
                        }
                        .into_any()
                    }
                    // Refused as asked (an older version): the words say why.
                    Some(Err(e)) if e.status().is_some_and(|s| (400..500).contains(&s)) => view! {
                        <p class="error" data-testid="export-refused">{sentence(&e.to_string())}</p>
                    }
                    .into_any(),
                    Some(Err(error)) => view! { <Failure error/> }.into_any(),
                }}
            </div>
        </section>
    }
}

/// A URL for `content` (of type `mime`) to be downloaded from, or `None`
/// if the browser refuses one.
fn blob_url(content: &str, mime: &str) -> Option<String> {
    let parts = js_sys::Array::of1(&content.into());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options).ok()?;
    web_sys::Url::create_object_url_with_blob(&blob).ok()
}

/// Starts the download of `url` as `name`, as a click on its link would.
fn download(url: &str, name: &str) {
    let Ok(link) = document().create_element("a") else { return };
    let _ = link.set_attribute("href", url);
    let _ = link.set_attribute("download", name);
    if let Ok(link) = link.dyn_into::<web_sys::HtmlElement>() {
        link.click();
    }
}

/// Every file of the export, changed or not, as one `.tar` download: asked
/// for when pressed, so a large folder is not held until then.
#[component]
fn TarDownload(store: String, version: i64) -> impl IntoView {
    let state = RwSignal::new(None::<Result<(), String>>);
    let busy = RwSignal::new(false);
    let name = format!("{store}-v{version}.tar");
    let urls = StoredValue::new(Vec::<String>::new());
    on_cleanup(move || {
        for url in urls.try_get_value().unwrap_or_default() {
            let _ = web_sys::Url::revoke_object_url(&url);
        }
    });
    let fetch = move |_| {
        let (store, name) = (store.clone(), name.clone());
        busy.set(true);
        leptos::task::spawn_local(async move {
            let done = match api::export_tar(&store, version).await {
                Ok(tar) => match blob_url(&tar, "application/x-tar") {
                    Some(url) => {
                        download(&url, &name);
                        urls.update_value(|u| u.push(url));
                        Ok(())
                    }
                    None => Err("The browser refused the download.".to_string()),
                },
                Err(e) => Err(sentence(&e.to_string())),
            };
            busy.try_set(false);
            state.try_set(Some(done));
        });
    };
    view! {
        <p class="inline">
            <button data-testid="download-tar" on:click=fetch disabled=move || busy.get()>
                {move || if busy.get() { "Preparing the archive…" } else { "Download every file (.tar)" }}
            </button>
            <span role="status" data-testid="download-tar-status">
                {move || match state.get() {
                    Some(Err(why)) => view! { <span class="error">{why}</span> }.into_any(),
                    _ => ().into_any(),
                }}
            </span>
        </p>
    }
}

/// One export: what changed, each changed file to download, and all of
/// them at once.
#[component]
fn ExportView(export: StoreExport) -> impl IntoView {
    let summary = export_text(&export);
    let links: Vec<(String, String, usize, Option<String>)> = export
        .changed
        .iter()
        .map(|f| {
            let url = blob_url(&f.content, "text/plain;charset=utf-8");
            (f.path.clone(), base_name(&f.path).to_string(), f.content.len(), url)
        })
        .collect();
    // The URLs hold the files in memory until they are let go.
    let urls: Vec<String> = links.iter().filter_map(|(.., u)| u.clone()).collect();
    on_cleanup(move || {
        for url in urls {
            let _ = web_sys::Url::revoke_object_url(&url);
        }
    });
    let all: Vec<(String, String)> =
        links.iter().filter_map(|(_, name, _, u)| u.clone().map(|u| (u, name.clone()))).collect();
    let n = all.len();
    let (store, version) = (export.store_id.clone(), export.version);
    view! {
        <p data-testid="export-summary">{summary}</p>
        <p class="muted">
            {format!("Import {} · {}", export.import_id, format_name(export.format))}
        </p>
        <TarDownload store version/>
        {(!links.is_empty()).then(|| view! {
            <ul class="plain export-files" data-testid="export-files">
                {links.into_iter().map(|(path, name, size, url)| view! {
                    <li data-testid="export-file">
                        <span class="mono">{path.clone()}</span>
                        <span class="muted">{format!(" · {} · ", size_text(size as u64))}</span>
                        {match url {
                            Some(url) => view! {
                                <a href=url download=name data-testid="download">
                                    "Download"<span class="sr-only">{format!(" {path}")}</span>
                                </a>
                            }.into_any(),
                            None => view! {
                                <span class="error">"The browser refused the download."</span>
                            }.into_any(),
                        }}
                    </li>
                }).collect_view()}
            </ul>
            {(n > 1).then(|| view! {
                <button data-testid="download-all" on:click=move |_| {
                    for (url, name) in &all {
                        download(url, name);
                    }
                }>{format!("Download all {}", count(n, "file", "files"))}</button>
            })}
        })}
    }
}
