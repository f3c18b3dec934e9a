//! Secrets in memory: a password, an API key or a card number a user
//! mentions once should not become a lasting entry that every later
//! session, tool and agent sharing the store can read. A change whose
//! resulting entry holds one carries a risk flag, so a person sees it and
//! it is never applied unattended. What is shown outside the store (evidence
//! to reviewers, webhooks) shows that a secret is there, not its value.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::ops::Range;

/// Words that name a secret, compared ignoring case with each part of a
/// token ("DB_PASSWORD" has the part "PASSWORD"); names of two parts, such
/// as "api_key", are `SECRET_PHRASES`.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwords",
    "passwd",
    "pw",
    "pwd",
    "passcode",
    "passphrase",
    "apikey",
    "pin",
    "ssn",
    "cvv",
    "iban",
];

/// Two-word names of secrets: the words in order, then what to call it.
const SECRET_PHRASES: &[(&str, &str, &str)] = &[
    ("api", "key", "api key"),
    ("api", "token", "api token"),
    ("secret", "key", "secret key"),
    ("private", "key", "private key"),
    ("access", "token", "access token"),
    ("auth", "token", "auth token"),
    ("bearer", "token", "bearer token"),
    ("credit", "card", "credit card"),
    ("card", "number", "card number"),
    ("security", "number", "social security number"),
    ("recovery", "phrase", "recovery phrase"),
    ("seed", "phrase", "seed phrase"),
    ("recovery", "code", "recovery code"),
    ("door", "code", "door code"),
    ("gate", "code", "door code"),
    ("alarm", "code", "alarm code"),
    ("access", "code", "access code"),
    ("wifi", "key", "Wi-Fi key"),
    ("network", "key", "Wi-Fi key"),
];

/// Prefixes of issued keys (a provider's format), with the shortest
/// length a real one has.
const KEY_PREFIXES: &[(&str, usize)] = &[
    ("sk-", 20),
    ("sk_live_", 24),
    ("sk_test_", 24),
    ("rk_live_", 24),
    ("rk_test_", 24),
    ("ghp_", 36),
    ("gho_", 36),
    ("ghs_", 36),
    ("ghu_", 36),
    ("ghr_", 36),
    ("github_pat_", 40),
    ("glpat-", 26),
    ("xoxb-", 24),
    ("xoxp-", 24),
    ("xoxa-", 24),
    ("xapp-", 24),
    ("AKIA", 20),
    ("ASIA", 20),
    ("AIza", 39),
    ("npm_", 36),
    ("hf_", 34),
    ("pypi-", 50),
    ("shpat_", 38),
    ("dop_v1_", 64),
];

/// Words a named secret's name may be followed by before its value, at
/// most this many ("password for the billing portal is …").
const MAX_WORDS_TO_VALUE: usize = 6;

/// What looks like a secret in `text`, each once, in the order found: a
/// named secret followed by a value in the same clause ("password is
/// hunter2", "API key: sk-12345", "DB_PASSWORD=hunter2"; naming one, as in
/// "needs a bearer token", is not enough), or a token shaped like an
/// issued or generated key.
pub fn secrets(text: &str) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for found in find(text) {
        if !names.contains(&found.name) {
            names.push(found.name);
        }
    }
    names
}

/// `text` with the value of every secret in it replaced by what it is
/// ("The password is [password hidden]."), so that a reviewer or a
/// webhook's receiver sees that a secret is there and where, not its
/// value. Borrowed when there is none.
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut found = find(text);
    if found.is_empty() {
        return Cow::Borrowed(text);
    }
    found.sort_by_key(|f| (f.span.start, Reverse(f.span.end)));
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    for Found { name, span } in found {
        if span.start < done {
            // Inside a span already hidden.
            continue;
        }
        out.push_str(&text[done..span.start]);
        out.push_str(&format!("[{name} hidden]"));
        done = span.end;
    }
    out.push_str(&text[done..]);
    Cow::Owned(out)
}

/// [`redact`] on a text owned: replaced only when it holds a secret.
pub fn redact_in_place(text: &mut String) {
    if let Cow::Owned(hidden) = redact(text) {
        *text = hidden;
    }
}

/// One secret: what it is and the bytes of its value.
struct Found {
    name: &'static str,
    span: Range<usize>,
}

fn find(text: &str) -> Vec<Found> {
    // Most texts name no secret and hold no digit, dash or underscore: one
    // read of their bytes (a vector at a time) and a look for the few
    // words secrets are named by say so.
    let marked =
        text.bytes().fold(false, |m, b| m | b.is_ascii_digit() | (b == b'-') | (b == b'_'));
    let seeds = seed_phrases(text);
    if !marked && seeds.is_empty() && !names_a_secret(text) {
        return Vec::new();
    }
    let mut found: Vec<Found> = Vec::new();
    found.extend(url_passwords(text).map(|span| Found { name: "password in a URL", span }));
    found.extend(seeds.into_iter().map(|span| Found { name: "seed phrase", span }));
    let is_token_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    let bytes = text.as_bytes();
    let (mut previous_part, mut previous_token) = ("", "");
    // A secret named, words read since, and whether a value may follow
    // now (after "is", ":" or "=").
    let mut named: Option<(&'static str, usize, bool)> = None;
    let mut at = 0;
    while at < bytes.len() {
        // The gap before the next token: a clause ends at . , ; ! ?
        let start =
            at + bytes[at..].iter().position(|&b| is_token_byte(b)).unwrap_or(bytes.len() - at);
        let gap = &bytes[at..start];
        if gap.iter().any(|b| matches!(b, b'.' | b',' | b';' | b'!' | b'?')) {
            named = None;
            previous_part = "";
        }
        if let Some((_, _, ready)) = &mut named {
            *ready |= gap.iter().any(|b| matches!(b, b':' | b'='));
        }
        let end = start
            + bytes[start..].iter().position(|&b| !is_token_byte(b)).unwrap_or(bytes.len() - start);
        at = end;
        if start == end {
            break;
        }
        // A value hidden before ("[password hidden]") is read as the end
        // of a clause, so that hiding twice hides nothing more.
        if let Some(close) = hidden_marker(text, start) {
            (named, previous_part, previous_token, at) = (None, "", "", close);
            continue;
        }
        // Token bytes are ASCII, so the slice is on char boundaries.
        let token = &text[start..end];
        let clause_ends = bytes[end..]
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_none_or(|b| matches!(b, b'.' | b',' | b';' | b'!' | b'?' | b')' | b'"'));
        if let Some((name, words, ready)) = named.take() {
            if ["is", "was", "are", "be"].iter().any(|w| token.eq_ignore_ascii_case(w)) {
                named = Some((name, words, true));
            } else if ready && (looks_like_value(token) || clause_ends && unlike_prose(token)) {
                found.push(Found { name, span: start..value_end(text, end) });
            } else if !ready && words < MAX_WORDS_TO_VALUE {
                named = Some((name, words + 1, false));
            }
        }
        // Names are read part by part: "DB_PASSWORD", "OPENAI_API_KEY" and
        // "api-key" name secrets as "password" and "API key" do.
        for part in token.split(['-', '_']).filter(|p| !p.is_empty()) {
            if let Some(word) = SECRET_WORDS.iter().find(|w| part.eq_ignore_ascii_case(w)) {
                named = Some((*word, 0, false));
            }
            for &(first, second, name) in SECRET_PHRASES {
                if previous_part.eq_ignore_ascii_case(first) && part.eq_ignore_ascii_case(second) {
                    named = Some((name, 0, false));
                }
            }
            previous_part = part;
        }
        let shape = if KEY_PREFIXES
            .iter()
            .any(|&(prefix, min)| token.starts_with(prefix) && token.len() >= min)
        {
            Some("issued key")
        } else if previous_token.eq_ignore_ascii_case("bearer")
            && token.len() >= 16
            && token.bytes().any(|b| b.is_ascii_digit())
        {
            Some("bearer token")
        } else if looks_random(token) {
            Some("token-like string")
        } else {
            None
        };
        found.extend(shape.map(|name| Found { name, span: start..end }));
        previous_token = token;
    }
    found
}

/// Where the marker [`redact`] put in place of a value ends, when a token
/// at `start` is its first word.
fn hidden_marker(text: &str, start: usize) -> Option<usize> {
    let open = start.checked_sub(1).filter(|&i| text.as_bytes()[i] == b'[')?;
    let rest = &text[open..];
    let close = rest.find(']').filter(|&c| c <= 40)?;
    rest[..close].ends_with(" hidden").then_some(open + close + 1)
}

/// Where a named secret's value that starts a token ending at `end` ends:
/// at the next space, so that symbols belong to it ("Tr0ub4dor&79"), less
/// the clause's closing punctuation; and through groups of digits after it
/// ("4111 1111 1111 1111").
fn value_end(text: &str, end: usize) -> usize {
    let bytes = text.as_bytes();
    let word_end = |from: usize| {
        from + bytes[from..].iter().position(u8::is_ascii_whitespace).unwrap_or(bytes.len() - from)
    };
    let trimmed = |from: usize, to: usize| {
        from + text[from..to].trim_end_matches(['.', ',', ';', '!', '?', ')', '"', '\'']).len()
    };
    let mut stop = trimmed(end, word_end(end));
    loop {
        let next = stop + bytes[stop..].iter().take_while(|&&b| b == b' ').count();
        let group = word_end(next);
        let group_text = &text[next..trimmed(next, group)];
        if next == stop || group_text.is_empty() || !group_text.bytes().all(|b| b.is_ascii_digit())
        {
            return stop;
        }
        stop = next + group_text.len();
    }
}
/// Whether the text has one of the words secrets are named by (a cheap
/// look, before the full read).
fn names_a_secret(text: &str) -> bool {
    const STEMS: &[&str] = &["pass", "pw", "pin", "phrase", "key", "code", "secret", "://"];
    let lower = text.to_ascii_lowercase();
    STEMS.iter().any(|s| lower.contains(s))
}

/// A value no prose word is: eight or more lowercase letters that are no
/// word of the lexicon ("purplemonkeydishwasher"). A capitalized word is
/// more likely a name ("Needs an API key: OpenAI").
fn unlike_prose(token: &str) -> bool {
    token.len() >= 8
        && token.bytes().all(|b| b.is_ascii_lowercase())
        && crate::lexicon::lemmas(token).is_empty()
}

/// `scheme://user:password@host`: credentials in a URL; the passwords.
fn url_passwords(text: &str) -> impl Iterator<Item = Range<usize>> + '_ {
    text.match_indices("://").filter_map(|(i, _)| {
        let from = i + 3;
        let rest = &text[from..];
        let authority = &rest[..rest.find(['/', ' ', '\n', '?', '#']).unwrap_or(rest.len())];
        let at = authority.find('@')?;
        let (user, pass) = authority[..at].split_once(':')?;
        let pass_from = from + user.len() + 1;
        (!user.is_empty() && !pass.is_empty()).then_some(pass_from..pass_from + pass.len())
    })
}

/// Twelve or more short lowercase words in a row with no function word or
/// punctuation between them: the shape of a wallet's seed phrase (BIP-39
/// words are 3 to 8 letters), which prose never has. Each such run.
fn seed_phrases(text: &str) -> Vec<Range<usize>> {
    let (mut run, mut first) = (0, 0);
    let mut found: Vec<Range<usize>> = Vec::new();
    let mut close = |run: usize, span: Range<usize>| {
        if run >= 12 {
            found.push(span);
        }
    };
    let mut last_end = 0;
    for word in text.split(' ') {
        // `word` is a slice of `text`: its place is the pointers' distance.
        let place = word.as_ptr() as usize - text.as_ptr() as usize;
        // The phrase's last word may end the sentence.
        let bare = word.trim_end_matches(['.', ',', ';']);
        let counts = (3..=8).contains(&bare.len())
            && bare.bytes().all(|b| b.is_ascii_lowercase())
            && !crate::text::is_stopword(bare);
        if counts {
            if run == 0 {
                first = place;
            }
            run += 1;
            last_end = place + bare.len();
        }
        if !counts || bare.len() < word.len() {
            close(run, first..last_end);
            run = 0;
        }
    }
    close(run, first..last_end);
    found
}

/// A word that is a value rather than prose: it has an underscore, or a
/// digit (at least four when it is only digits: "12 characters" is not a
/// password).
fn looks_like_value(token: &str) -> bool {
    let digits = token.bytes().filter(u8::is_ascii_digit).count();
    token.contains('_') || (digits > 0 && (digits < token.len() || digits >= 4))
}

/// A long run of letters of both cases and digits that changes between
/// them as often as generated keys do; hex digests and ids (one case),
/// identifiers with dashes or underscores, and CamelCase names (a change
/// every word) are not.
fn looks_random(token: &str) -> bool {
    let class = |b: u8| {
        if b.is_ascii_digit() {
            0
        } else if b.is_ascii_uppercase() {
            1
        } else {
            2
        }
    };
    let bytes = token.as_bytes();
    if bytes.len() < 32 || !bytes.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let has = |c: u8| bytes.iter().any(|&b| class(b) == c);
    let changes = bytes.windows(2).filter(|w| class(w[0]) != class(w[1])).count();
    has(0) && has(1) && has(2) && changes * 3 >= bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_named_secrets_and_key_shapes_not_ordinary_facts() {
        let check = |text: &str, expected: &[&str]| assert_eq!(secrets(text), expected, "{text:?}");
        check("User's password is hunter2.", &["password"]);
        check("User's API key is sk-12345.", &["api key"]);
        check("Password: Tr0ub4dor", &["password"]);
        check("My credit card number is 4111 1111 1111 1111", &["card number"]);
        check(
            "Deploy with DB_PASSWORD=hunter2 and OPENAI_API_KEY=abcdef123",
            &["password", "api key"],
        );
        check("api-key: hunter2", &["api key"]);
        check("Deploy with OPENAI_KEY=sk-proj4f9QxT2mLw8vZr1Kp", &["issued key"]);
        check("The token is Zr1Kp4f9QxT2mLw8vBn6Hc3Ys7Ud5Ge0Ja", &["token-like string"]);
        // Named, with no value in the same clause.
        check("Acme API needs a bearer token.", &[]);
        check("The password policy requires 12 characters.", &[]);
        check("The password is 12 characters long.", &[]);
        check("The API key is stored in the vault.", &[]);
        check("Project needs an API key. GitHub Actions injects it in 2 steps.", &[]);
        check("User forgot the password, OAuth2 login works", &[]);
        check("Needs an API key: OpenAI", &[]);
        // Digests, ids, identifiers and ordinary text.
        check("Deployed commit 3e49b09c4f1a2b7d8e9f00112233445566778899.", &[]);
        check("Request id 123e4567-e89b-12d3-a456-426614174000 failed", &[]);
        check("Branch ABC-1234-Add-User-Authentication-Flow is merged", &[]);
        check(
            "Run UserAuthenticationServiceImplV2Test and DeepSeek-R1-Distill-Qwen-32B-Instruct",
            &[],
        );
        check("User prefers tabs over spaces; the key to the office is at reception.", &[]);
        check("User's café is Ça Va", &[]);
    }

    #[test]
    fn finds_secrets_in_the_shapes_people_write_them() {
        let check = |text: &str, expected: &[&str]| assert_eq!(secrets(text), expected, "{text:?}");
        check("The password for the billing portal is Tr0ub4dor&79.", &["password"]);
        check("User's Wi-Fi passphrase is purplemonkeydishwasher.", &["passphrase"]);
        check("Stripe test key: sk_test_4eC39HqLyjWDarjtT1zdp7dc", &["issued key"]);
        check("Use glpat-xZr1Kp4f9QxT2mLw8vBn for the CI", &["issued key"]);
        check("Connect with postgres://admin:s3cret@db.internal:5432/app", &["password in a URL"]);
        check("User's bank PIN is 4821.", &["pin"]);
        check("pw: hunter2", &["pw"]);
        check("The door code is 4821#", &["door code"]);
        check("Authorization: Bearer 3f9a1c77e4b2d6508a1f9c3e7b5d2a40", &["bearer token"]);
        check(
            "Wallet words: legal winner thank year wave sausage worth useful legal winner thank yellow",
            &["seed phrase"],
        );
        // Look-alikes that are not secrets.
        check("The password for the portal is stored in the vault.", &[]);
        check("Pin the release to version 3 of the API.", &[]);
        check("The door code is kept by the office manager.", &[]);
        check("Docs live at https://example.com/a:b@c? no, at https://docs.example.com", &[]);
        check("The team ships on Fridays and reviews code on Mondays with the lead.", &[]);
        check("Deploy pipeline keys are rotated monthly by the platform team.", &[]);
    }

    #[test]
    fn hides_the_values_and_keeps_the_words_around_them() {
        let check = |text: &str, expected: &str| assert_eq!(redact(text), expected, "{text:?}");
        check(
            "The password for the billing portal is Tr0ub4dor&79.",
            "The password for the billing portal is [password hidden].",
        );
        check(
            "My card number is 4111 1111 1111 1111, thanks",
            "My card number is [card number hidden], thanks",
        );
        check(
            "Connect with postgres://admin:s3cret@db.internal:5432/app",
            "Connect with postgres://admin:[password in a URL hidden]@db.internal:5432/app",
        );
        check(
            "Authorization: Bearer 3f9a1c77e4b2d6508a1f9c3e7b5d2a40",
            "Authorization: Bearer [bearer token hidden]",
        );
        check(
            "DB_PASSWORD=hunter2 and OPENAI_API_KEY=sk-proj4f9QxT2mLw8vZr1Kp",
            "DB_PASSWORD=[password hidden] and OPENAI_API_KEY=[api key hidden]",
        );
        check(
            "Words: legal winner thank year wave sausage worth useful legal winner thank yellow. Done",
            "Words: [seed phrase hidden]. Done",
        );
        check(
            "The door code is 4821# (back door)",
            "The door code is [door code hidden] (back door)",
        );
        check("Café prices rose 4 %; no secret here.", "Café prices rose 4 %; no secret here.");
        assert!(matches!(redact("User prefers tabs."), Cow::Borrowed(_)));
    }
}
