//! A push of memory files to a store that may hold an earlier push of the
//! same folder: what to add, what the files no longer hold, and which
//! files changed both here and in the store since (a conflict: pull first).
//!
//! Each file is decided by itself, against the earlier push (the base):
//! - unchanged since the base: nothing happens, whatever the store did;
//! - changed here, its entries unchanged in the store: entries are matched
//!   by text, new ones are added and those gone from the file are retired;
//! - changed here and in the store (a review changed its entries): if the
//!   file is what the store would export (it was pulled), its entries are
//!   the store's, found by text; otherwise a conflict, and nothing of the
//!   push is written;
//! - new: every entry is added.
//!
//! Files of the base the push leaves out stay as they were, so the new
//! push's layout still covers every file; a file named as deleted takes
//! its entries with it (a deletion is a change like any other).

use std::collections::{HashMap, HashSet};

use crate::entry::{Id, MemoryEntry};
use crate::error::Result;
use crate::store::MemoryStore;

use super::{export, import, text_of, Document, File, Format, Layout, Skipped};

/// The earlier push: its layout and files.
#[derive(Clone, Copy, Debug)]
pub struct Base<'a> {
    /// Where each entry of the earlier push sat.
    pub layout: &'a Layout,
    /// The files as pushed then.
    pub files: &'a [File],
}

/// What a push does.
#[derive(Clone, Debug, PartialEq)]
pub struct Synced {
    /// The new push's files: the bundle's, then the base's it left out.
    pub files: Vec<File>,
    /// Their layout, naming the store's ids.
    pub layout: Layout,
    /// Entries new to the store.
    pub added: Vec<MemoryEntry>,
    /// Entries of the base no longer in their file (removed there), still
    /// active in the store: to retire.
    pub removed: Vec<Id>,
    /// Records a service changed since the last push (same id, new text):
    /// the store's entries with their new text.
    pub edited: Vec<MemoryEntry>,
    /// Entries of the push the store holds already.
    pub unchanged: usize,
    /// Files changed both in the bundle and in the store since the base.
    pub conflicts: Vec<String>,
    /// What was not read as an entry, and why.
    pub skipped: Vec<Skipped>,
}

/// Reads `bundle` as a push to `store`, whose earlier push is `base`;
/// `deleted` names files of the base deleted since (their entries are
/// deleted too, unless a review changed them: a conflict).
pub fn sync(
    format: Format,
    bundle: &[File],
    deleted: &[String],
    base: Option<Base<'_>>,
    store: &MemoryStore,
    now: crate::Timestamp,
) -> Result<Synced> {
    let read = import(format, bundle, now)?;
    for path in deleted {
        let in_base = base.is_some_and(|b| b.layout.documents.iter().any(|d| &d.path == path));
        if !in_base || bundle.iter().any(|f| &f.path == path) {
            return Err(crate::error::Error::invalid(
                format!("deleted[{path:?}]"),
                "names no file of the last push, or a file the push also sends",
            ));
        }
    }
    // The files whose entries a review changed since the base, as the
    // store would write them (a listing's export is its operations file).
    let reviewed: HashMap<String, String> = match base {
        Some(b) => export(b.layout, b.files, store)?
            .into_iter()
            .map(|f| match f.path.strip_suffix(".operations.json") {
                Some(listing) if format.is_listing() => (listing.to_owned(), f.content),
                _ => (f.path, f.content),
            })
            .collect(),
        None => HashMap::new(),
    };
    let base_doc: HashMap<&str, (&Document, &File)> = match base {
        Some(b) => {
            let file_at: HashMap<&str, &File> =
                b.files.iter().map(|f| (f.path.as_str(), f)).collect();
            b.layout
                .documents
                .iter()
                .filter_map(|d| Some((d.path.as_str(), (d, *file_at.get(d.path.as_str())?))))
                .collect()
        }
        None => HashMap::new(),
    };
    let in_store: HashMap<&str, &MemoryEntry> =
        store.entries.iter().map(|e| (e.id.as_str(), e)).collect();
    let active = |id: &Id| in_store.get(id.as_str()).is_some_and(|e| e.is_active());
    let mut out = Synced {
        files: Vec::new(),
        layout: Layout { format, documents: Vec::new() },
        added: Vec::new(),
        removed: Vec::new(),
        edited: Vec::new(),
        unchanged: 0,
        conflicts: Vec::new(),
        skipped: read.skipped,
    };
    let mut by_id: HashMap<Id, MemoryEntry> =
        read.entries.into_iter().map(|e| (e.id.clone(), e)).collect();
    let mut ids_taken: HashSet<Id> = HashSet::new();
    let mut by_text: Option<HashMap<&str, Vec<&Id>>> = None;
    for (doc, file) in read.layout.documents.into_iter().zip(bundle) {
        let Some(&(old, old_file)) = base_doc.get(doc.path.as_str()) else {
            let mut doc = doc;
            // A file the store's export made (entries the index had no
            // room for), pulled: its entries are the store's.
            if !format.is_listing() && reviewed.get(&doc.path) == Some(&file.content) {
                let by_text = by_text.get_or_insert_with(|| active_by_text(store));
                claim_by_text(&mut doc, &mut by_id, by_text, &mut ids_taken, &mut out.unchanged);
            }
            let doc = add_all(doc, &mut by_id, &in_store, &mut ids_taken, &mut out);
            out.layout.documents.push(doc);
            out.files.push(file.clone());
            continue;
        };
        if old.digest == doc.digest {
            // As pushed before: the base's spans name the store's entries.
            out.unchanged += old.spans.len();
            ids_taken.extend(old.spans.iter().map(|s| s.entry.clone()));
            out.layout.documents.push(old.clone());
            out.files.push(file.clone());
            continue;
        }
        if let Some(exported) = reviewed.get(&doc.path) {
            // Pulled: the file is what the store says. Its entries are the
            // store's, found by text (a listing's by id).
            let pulled = if format.is_listing() {
                holds_as_stored(&doc, &by_id, &in_store, old)
            } else {
                *exported == file.content
            };
            if !pulled {
                out.conflicts.push(doc.path.clone());
                continue;
            }
            let mut doc = doc;
            if format.is_listing() {
                for span in doc.spans.iter().filter(|s| by_id.remove(&s.entry).is_some()) {
                    ids_taken.insert(span.entry.clone());
                    out.unchanged += 1;
                }
            } else {
                let by_text = by_text.get_or_insert_with(|| active_by_text(store));
                claim_by_text(&mut doc, &mut by_id, by_text, &mut ids_taken, &mut out.unchanged);
            }
            let doc = add_all(doc, &mut by_id, &in_store, &mut ids_taken, &mut out);
            out.layout.documents.push(doc);
            out.files.push(file.clone());
            continue;
        }
        // Changed here only. A file's entries are matched by text, in
        // file order; a service's records by their ids, and a record whose
        // text changed there was edited: the store's entry takes it.
        let mut doc = doc;
        let mut kept: HashSet<&Id> = HashSet::new();
        if format.is_listing() {
            for s in &old.spans {
                let Some(e) = by_id.remove(&s.entry) else { continue };
                match in_store.get(s.entry.as_str()) {
                    Some(held) if held.is_active() => {
                        if held.text == e.text {
                            out.unchanged += 1;
                        } else {
                            let mut entry = (*held).clone();
                            entry.text = e.text;
                            entry.observed_at = e.observed_at.or(entry.observed_at);
                            out.edited.push(entry);
                        }
                        kept.insert(&s.entry);
                    }
                    _ => {
                        by_id.insert(s.entry.clone(), e);
                    }
                }
            }
        } else {
            let mut was: HashMap<String, Vec<&Id>> = HashMap::new();
            for s in old.spans.iter().rev() {
                was.entry(text_of(format, &old_file.content, s)).or_default().push(&s.entry);
            }
            for span in &mut doc.spans {
                let Some(e) = by_id.get(&span.entry) else { continue };
                if let Some(id) = was.get_mut(&e.text).and_then(Vec::pop) {
                    by_id.remove(&span.entry);
                    span.entry = id.clone();
                    kept.insert(id);
                    out.unchanged += 1;
                }
            }
        }
        ids_taken.extend(kept.iter().map(|&id| id.clone()));
        let gone = old.spans.iter().map(|s| &s.entry).filter(|id| !kept.contains(id));
        out.removed.extend(gone.filter(|id| active(id)).cloned());
        let doc = add_all(doc, &mut by_id, &in_store, &mut ids_taken, &mut out);
        out.layout.documents.push(doc);
        out.files.push(file.clone());
    }
    // Files of the base the bundle leaves out stay as they were, but for
    // those deleted, whose entries go with them.
    let pushed: HashSet<&str> = bundle.iter().map(|f| f.path.as_str()).collect();
    for d in base.map_or(&[][..], |b| &b.layout.documents) {
        if pushed.contains(d.path.as_str()) {
            continue;
        }
        if deleted.contains(&d.path) {
            if reviewed.contains_key(&d.path) {
                out.conflicts.push(d.path.clone());
                continue;
            }
            out.removed.extend(d.spans.iter().map(|s| &s.entry).filter(|id| active(id)).cloned());
            continue;
        }
        if let Some(&(doc, file)) = base_doc.get(d.path.as_str()) {
            out.layout.documents.push(doc.clone());
            out.files.push(file.clone());
        }
    }
    if !out.conflicts.is_empty() {
        out.added.clear();
        out.removed.clear();
        out.edited.clear();
    }
    Ok(out)
}

/// Names each entry of `doc` read from a file the store's export wrote by
/// the store's active entry of the same text not yet taken, counting it
/// unchanged.
fn claim_by_text(
    doc: &mut Document,
    by_id: &mut HashMap<Id, MemoryEntry>,
    by_text: &HashMap<&str, Vec<&Id>>,
    ids_taken: &mut HashSet<Id>,
    unchanged: &mut usize,
) {
    for span in &mut doc.spans {
        let Some(e) = by_id.get(&span.entry) else { continue };
        let found = by_text
            .get(e.text.as_str())
            .and_then(|ids| ids.iter().find(|id| !ids_taken.contains(**id)))
            .map(|id| (*id).clone());
        if let Some(id) = found {
            by_id.remove(&span.entry);
            ids_taken.insert(id.clone());
            span.entry = id;
            *unchanged += 1;
        }
    }
}

/// Gives each entry of `doc` still unplaced an id the store does not use
/// for something else, and adds it; an entry the store holds as read (an
/// earlier push whose record was lost) is counted as unchanged.
fn add_all(
    mut doc: Document,
    by_id: &mut HashMap<Id, MemoryEntry>,
    in_store: &HashMap<&str, &MemoryEntry>,
    ids_taken: &mut HashSet<Id>,
    out: &mut Synced,
) -> Document {
    for span in &mut doc.spans {
        let Some(mut e) = by_id.remove(&span.entry) else { continue };
        if in_store.get(e.id.as_str()).is_some_and(|held| held.is_active() && held.text == e.text)
            && ids_taken.insert(e.id.clone())
        {
            out.unchanged += 1;
            continue;
        }
        let free = |id: &Id| !in_store.contains_key(id.as_str()) && !ids_taken.contains(id);
        if !free(&e.id) {
            let renamed = (2..)
                .filter_map(|n| Id::new(format!("{}.r{n}", e.id)).ok())
                .find(|id| free(id))
                .expect("an unbounded range finds a free id");
            e.id = renamed;
        }
        ids_taken.insert(e.id.clone());
        span.entry = e.id.clone();
        out.added.push(e);
    }
    doc
}

/// Whether a listing read again holds exactly what the store holds of it:
/// every record's text as the store has it, and no record the store
/// retired (the operations of an export were applied to the service).
fn holds_as_stored(
    doc: &Document,
    by_id: &HashMap<Id, MemoryEntry>,
    in_store: &HashMap<&str, &MemoryEntry>,
    old: &Document,
) -> bool {
    let now: HashSet<&Id> = doc.spans.iter().map(|s| &s.entry).collect();
    let same = doc.spans.iter().all(|s| {
        let held = in_store.get(s.entry.as_str());
        by_id.get(&s.entry).is_some_and(|e| held.is_some_and(|h| h.is_active() && h.text == e.text))
    });
    let gone = old.spans.iter().filter(|s| !now.contains(&s.entry));
    same && gone.into_iter().all(|s| !in_store.get(s.entry.as_str()).is_some_and(|e| e.is_active()))
}

/// The active entries of `store` by text, each text's ids in order: read
/// once, the first time a pulled file needs them.
fn active_by_text(store: &MemoryStore) -> HashMap<&str, Vec<&Id>> {
    let mut by_text: HashMap<&str, Vec<&Id>> = HashMap::new();
    for e in store.entries.iter().filter(|e| e.is_active()) {
        by_text.entry(e.text.as_str()).or_default().push(&e.id);
    }
    for ids in by_text.values_mut() {
        ids.sort();
    }
    by_text
}
