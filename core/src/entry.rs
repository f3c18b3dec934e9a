//! Memory entries: what an agent remembers, where it came from, and whether
//! it still holds.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The longest entry text accepted, in bytes. Longer notes are documents,
/// not memories, and would swamp every similarity measure.
pub const MAX_TEXT_BYTES: usize = 16 * 1024;
/// The longest id accepted, in bytes.
pub const MAX_ID_BYTES: usize = 128;

/// Milliseconds since the Unix epoch, UTC. The core never reads a clock:
/// every time comes in from the caller.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// One hour, in milliseconds.
    pub const HOUR: i64 = 3_600_000;
    /// One day, in milliseconds.
    pub const DAY: i64 = 24 * Self::HOUR;

    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// The earliest time taken: the start of year 1.
    pub const MIN: Timestamp = Timestamp(-62_135_596_800_000);
    /// The latest time taken: the end of year 9999.
    pub const MAX: Timestamp = Timestamp(253_402_300_799_999);

    /// The time, if it is between `MIN` and `MAX` (a time outside is a
    /// mistake, and near `i64`'s ends it overflows arithmetic); else an
    /// error naming `field`.
    pub fn checked(self, field: impl Into<String>) -> Result<Timestamp> {
        if (Self::MIN..=Self::MAX).contains(&self) {
            Ok(self)
        } else {
            Err(Error::invalid(
                field,
                format!("{} is not a time between the years 1 and 9999 (milliseconds)", self.0),
            ))
        }
    }
}

/// An id: 1 to 128 bytes of ASCII letters, digits and `_ - . :`.
///
/// A pass names each entry in targets, evidence, results and base
/// fingerprints, so ids are copied and compared often, mostly ids of
/// entries far apart in a large store. An id of up to `INLINE_ID_BYTES`
/// (most are) is held in the value itself: copying or comparing it reads
/// nothing else. A longer one is shared, and a copy is a count.
#[derive(Clone)]
pub struct Id(IdRepr);

/// The longest id held inline: with its length and the variant tag, an
/// `Id` is three words, like a `String`.
const INLINE_ID_BYTES: usize = 22;

#[derive(Clone)]
enum IdRepr {
    Inline { len: u8, bytes: [u8; INLINE_ID_BYTES] },
    Shared(std::sync::Arc<str>),
}

const _: () = assert!(std::mem::size_of::<Id>() == 24, "an id is three words");

impl Id {
    /// The id `id`, if it keeps the rules above; else an [`Error::Invalid`].
    pub fn new(id: impl AsRef<str>) -> Result<Self> {
        let id = id.as_ref();
        if id.is_empty() || id.len() > MAX_ID_BYTES {
            return Err(Error::invalid(
                "id",
                format!("must be 1 to {MAX_ID_BYTES} bytes, got {}", id.len()),
            ));
        }
        if let Some(bad) =
            id.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')))
        {
            return Err(Error::invalid(
                "id",
                format!("`{id}` contains `{bad}`; use letters, digits and _ - . :"),
            ));
        }
        // `.` and `..` name places in a path, not things: in a URL they
        // would address another resource.
        if id.bytes().all(|b| b == b'.') {
            return Err(Error::invalid(
                "id",
                format!("`{id}` is only dots; an id needs a letter, digit or _ - :"),
            ));
        }
        Ok(Id::from_valid(id))
    }

    fn from_valid(id: &str) -> Self {
        if id.len() <= INLINE_ID_BYTES {
            let mut bytes = [0; INLINE_ID_BYTES];
            bytes[..id.len()].copy_from_slice(id.as_bytes());
            Id(IdRepr::Inline { len: id.len() as u8, bytes })
        } else {
            Id(IdRepr::Shared(id.into()))
        }
    }

    /// An id not yet given, for a value built before its id is known; empty,
    /// to be replaced before anyone sees it.
    pub(crate) fn unassigned() -> Self {
        Id::from_valid("")
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Inline bytes are copied from a `str` whole, never cut.
            IdRepr::Inline { .. } => {
                std::str::from_utf8(self.as_bytes()).expect("an inline id is a whole str")
            }
            IdRepr::Shared(s) => s,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            IdRepr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            IdRepr::Shared(s) => s.as_bytes(),
        }
    }
}

impl PartialEq for Id {
    fn eq(&self, other: &Id) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Id {}

impl PartialOrd for Id {
    fn partial_cmp(&self, other: &Id) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The order of the text: bytes compare as the `str`s do.
impl Ord for Id {
    fn cmp(&self, other: &Id) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl std::hash::Hash for Id {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl std::fmt::Debug for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Id").field(&self.as_str()).finish()
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        // Read from the input in place: an id read needs no `String`.
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Id;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an id string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Id, E> {
                Id::new(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

impl TryFrom<String> for Id {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Id::new(s)
    }
}

impl From<Id> for String {
    fn from(id: Id) -> String {
        id.as_str().to_owned()
    }
}

impl Serialize for Id {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What sort of thing an entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A durable fact, e.g. about the user, a project or a system.
    Fact,
    /// How the user likes things done.
    Preference,
    /// A standing instruction for the agent.
    Instruction,
    /// A recurring behaviour, e.g. a correction the user keeps making.
    Pattern,
    /// A recurring failure to avoid, e.g. a tool call that keeps failing.
    Mistake,
    /// A free-form note; related notes may be consolidated into one.
    Note,
}

/// How far the source of a piece of content can be trusted, most trusted
/// first. Tool output and external pages may carry text written to poison
/// memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trust {
    /// Said by the user.
    User,
    /// Written by the agent (assistant or system messages).
    Agent,
    /// Tool output.
    Tool,
    /// Content from outside, e.g. a fetched web page.
    External,
}

impl Trust {
    /// The trust's word on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Trust::User => "user",
            Trust::Agent => "agent",
            Trust::Tool => "tool",
            Trust::External => "external",
        }
    }

    /// Tool output and external content are data, never instructions.
    pub fn is_untrusted(self) -> bool {
        matches!(self, Trust::Tool | Trust::External)
    }
}

/// A message in a session transcript: session id and 0-based index.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MessageRef {
    /// The session the message belongs to.
    pub session_id: Id,
    /// The message's 0-based position in the session's transcript.
    pub message_index: u32,
}

/// Where an entry came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The least trusted source that contributed to the entry.
    pub trust: Trust,
    /// The transcript messages the entry was drawn from; may be empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<MessageRef>,
}

impl Default for Provenance {
    fn default() -> Self {
        Provenance { trust: Trust::Agent, sources: Vec::new() }
    }
}

/// Whether an entry still holds. Entries are never deleted: a retired entry
/// stays in the store with the reason it was retired.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// The entry holds.
    Active,
    /// Newer information overrides this entry from `valid_until` on.
    Superseded {
        /// The entry that replaces this one.
        superseded_by: Id,
        /// When the newer information took over.
        valid_until: Timestamp,
    },
    /// Folded into another entry that says the same (merge, consolidate).
    Merged {
        /// The entry this one was folded into.
        merged_into: Id,
    },
    /// Outdated or contradicted, with no successor.
    Pruned {
        /// Why the entry was retired, in words.
        reason: String,
    },
}

impl Status {
    /// Whether this is [`Status::Active`].
    pub fn is_active(&self) -> bool {
        matches!(self, Status::Active)
    }
}

/// One thing an agent remembers, with where it came from and whether it
/// still holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemoryEntry {
    /// Unique within its store.
    pub id: Id,
    /// What is remembered, in plain words; at most [`MAX_TEXT_BYTES`] bytes.
    pub text: String,
    /// What sort of thing the entry records.
    pub kind: EntryKind,
    /// Who or what the entry is about ("user", "acme-api"), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Free-form labels; merges and consolidations keep the union.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Where the entry came from; defaults to agent trust with no sources.
    #[serde(default)]
    pub provenance: Provenance,
    /// When the entry was first written.
    pub created_at: Timestamp,
    /// When the fact was last seen to hold; defaults to `created_at`.
    #[serde(default)]
    pub observed_at: Option<Timestamp>,
    /// Whether the entry still holds; in JSON its `status` tag and fields sit
    /// beside the entry's own.
    #[serde(flatten)]
    pub status: Status,
    /// 0.0 ..= 1.0
    #[serde(default = "default_confidence", serialize_with = "short_f32")]
    pub confidence: f32,
}

fn default_confidence() -> f32 {
    0.8
}

/// Writes an `f32` as the shortest decimal that reads back to it, also
/// when the serializer widens to `f64` first (as `serde_json::Value`
/// does): `0.8`, not `0.800000011920929`.
pub(crate) fn short_f32<S: serde::Serializer>(
    x: &f32,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    let shortest: f64 = x.to_string().parse().unwrap_or(f64::from(*x));
    s.serialize_f64(shortest)
}

impl MemoryEntry {
    /// A new active entry with default provenance and confidence.
    pub fn new(id: Id, text: impl Into<String>, kind: EntryKind, created_at: Timestamp) -> Self {
        MemoryEntry {
            id,
            text: text.into(),
            kind,
            subject: None,
            tags: Vec::new(),
            provenance: Provenance::default(),
            created_at,
            observed_at: None,
            status: Status::Active,
            confidence: default_confidence(),
        }
    }

    /// When the entry was last seen to hold.
    pub fn observed(&self) -> Timestamp {
        self.observed_at.unwrap_or(self.created_at)
    }

    /// Whether the entry still holds.
    pub fn is_active(&self) -> bool {
        self.status.is_active()
    }

    /// Checks the rules serde cannot: non-empty bounded text, a confidence
    /// in range, a status that does not point at itself.
    pub fn validate(&self) -> Result<()> {
        let field = |name: &str| format!("entries[{}].{name}", self.id);
        if self.text.trim().is_empty() {
            return Err(Error::invalid(field("text"), "is empty"));
        }
        if self.text.len() > MAX_TEXT_BYTES {
            return Err(Error::invalid(
                field("text"),
                format!("is {} bytes; the limit is {MAX_TEXT_BYTES}", self.text.len()),
            ));
        }
        if !(0.0..=1.0).contains(&self.confidence) {
            return Err(Error::invalid(
                field("confidence"),
                format!("{} is outside 0..=1", self.confidence),
            ));
        }
        self.created_at.checked(field("created_at"))?;
        if let Some(t) = self.observed_at {
            t.checked(field("observed_at"))?;
        }
        match &self.status {
            Status::Superseded { superseded_by: other, .. }
            | Status::Merged { merged_into: other }
                if *other == self.id =>
            {
                Err(Error::invalid(
                    field("status"),
                    "an entry cannot be retired in favour of itself",
                ))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_outside_years_1_to_9999_are_refused() {
        assert!(Timestamp(0).checked("t").is_ok());
        assert!(Timestamp::MAX.checked("t").is_ok() && Timestamp::MIN.checked("t").is_ok());
        let e = Timestamp(9_000_000_000_000_000_000).checked("entries[m1].created_at");
        assert!(e.unwrap_err().to_string().contains("entries[m1].created_at"));
        let mut entry =
            MemoryEntry::new(Id::new("m1").unwrap(), "x", EntryKind::Fact, Timestamp(0));
        entry.observed_at = Some(Timestamp(i64::MIN));
        assert!(entry.validate().is_err());
    }

    #[test]
    fn ids_of_only_dots_are_refused() {
        for id in [".", "..", "..."] {
            assert!(Id::new(id).is_err(), "{id}");
        }
        assert!(Id::new("v1.2").is_ok() && Id::new(".env").is_ok());
    }

    #[test]
    fn ids_are_plain_strings_in_json_held_inline_when_short() {
        let id = Id::new("m0001.e2").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), r#""m0001.e2""#);
        assert_eq!(serde_json::from_str::<Id>(r#""m0001.e2""#).unwrap(), id);
        assert_eq!(
            serde_json::from_str::<Id>(r#""m0001\u002ee2""#).unwrap(),
            id,
            "escapes are read"
        );
        assert!(serde_json::from_str::<Id>(r#""m 1""#).is_err());
        assert!(serde_json::from_str::<Id>(r#""""#).is_err());
        assert!(serde_json::from_str::<Id>("7").is_err());
        assert_eq!(format!("{id} {id:?}"), r#"m0001.e2 Id("m0001.e2")"#);
        let copy = id.clone();
        assert!(!std::ptr::eq(id.as_str(), copy.as_str()), "a short id is copied whole");
        assert_eq!(String::from(copy), "m0001.e2");

        let long = Id::new("a".repeat(INLINE_ID_BYTES + 1)).unwrap();
        let copy = long.clone();
        assert!(std::ptr::eq(long.as_str(), copy.as_str()), "a long id's clone shares the text");
        assert_eq!(
            serde_json::from_str::<Id>(&serde_json::to_string(&long).unwrap()).unwrap(),
            long
        );
        assert!(Id::new("a".repeat(MAX_ID_BYTES + 1)).is_err());

        // Inline and shared ids order as their text does.
        let inline = Id::new("a".repeat(INLINE_ID_BYTES)).unwrap();
        let ordered = [Id::new("a").unwrap(), inline.clone(), long.clone(), Id::new("b").unwrap()];
        assert!(ordered.windows(2).all(|w| w[0] < w[1] && w[0].as_str() < w[1].as_str()));
        assert_ne!(inline, long);
        let hash = |id: &Id| {
            use std::hash::{BuildHasher, BuildHasherDefault};
            BuildHasherDefault::<rustc_hash::FxHasher>::default().hash_one(id)
        };
        assert_eq!(hash(&inline), hash(&Id::new("a".repeat(INLINE_ID_BYTES)).unwrap()));
    }
}
