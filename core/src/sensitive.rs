//! Secrets in memory: a password, an API key or a card number a user
//! mentions once should not become a lasting entry that every later
//! session, tool and agent sharing the store can read. A change whose
//! resulting entry holds one carries a risk flag, so a person sees it and
//! it is never applied unattended.

/// Words that name a secret, as single tokens (compared ignoring case).
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwords",
    "passwd",
    "passcode",
    "passphrase",
    "apikey",
    "api_key",
    "secret_key",
    "access_token",
    "auth_token",
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
];

/// Prefixes of issued keys (a provider's format), with the shortest
/// length a real one has.
const KEY_PREFIXES: &[(&str, usize)] =
    &[("sk-", 20), ("sk_live_", 24), ("ghp_", 36), ("github_pat_", 40), ("xoxb-", 24), ("xoxp-", 24), ("AKIA", 20)];

/// What looks like a secret in `text`, each once, in the order found: a
/// named secret followed by a value ("password is hunter2", "API key:
/// sk-12345"; naming one, as in "needs a bearer token", is not enough),
/// or a token shaped like an issued or generated key.
pub fn secrets(text: &str) -> Vec<&'static str> {
    // Every secret found below has a value or a key with a digit, a dash,
    // an underscore or a capital after a letter: most texts have none, and
    // one read of their bytes says so.
    // Both reads go through every byte without branching, so they run a
    // vector of bytes at a time.
    let bytes = text.as_bytes();
    let marked = bytes.iter().fold(false, |m, &b| m | b.is_ascii_digit() | (b == b'-') | (b == b'_'));
    let inner_capital = bytes
        .iter()
        .zip(bytes.iter().skip(1))
        .fold(false, |m, (&a, &b)| m | (a.is_ascii_alphabetic() & b.is_ascii_uppercase()));
    if !(marked || inner_capital) {
        return Vec::new();
    }
    let mut found: Vec<&'static str> = Vec::new();
    let mut note = |what: &'static str| {
        if !found.contains(&what) {
            found.push(what);
        }
    };
    let is_token_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let (mut previous, mut named) = ("", None);
    for token in text.split(|c: char| !is_token_char(c)).filter(|t| !t.is_empty()) {
        if let Some(name) = named.take() {
            if ["is", "was", "are"].iter().any(|w| token.eq_ignore_ascii_case(w)) {
                named = Some(name);
            } else if looks_like_value(token) {
                note(name);
            }
        }
        if let Some(word) = SECRET_WORDS.iter().find(|w| token.eq_ignore_ascii_case(w)) {
            named = Some(*word);
        }
        for &(first, second, name) in SECRET_PHRASES {
            if previous.eq_ignore_ascii_case(first) && token.eq_ignore_ascii_case(second) {
                named = Some(name);
            }
        }
        if KEY_PREFIXES.iter().any(|&(prefix, min)| token.starts_with(prefix) && token.len() >= min) {
            note("issued key");
        } else if looks_random(token) {
            note("token-like string");
        }
        previous = token;
    }
    found
}

/// A word that is a value rather than prose: it has a digit, a dash or an
/// underscore, or a capital after its first letter.
fn looks_like_value(token: &str) -> bool {
    let bytes = token.as_bytes();
    bytes.iter().any(|b| b.is_ascii_digit() || *b == b'-' || *b == b'_')
        || bytes.iter().skip(1).any(u8::is_ascii_uppercase)
}

/// A long run of letters of both cases and digits, as generated keys are;
/// hex digests and ids (one case) are not.
fn looks_random(token: &str) -> bool {
    let has = |f: fn(&u8) -> bool| token.as_bytes().iter().any(f);
    token.len() >= 32 && has(u8::is_ascii_uppercase) && has(u8::is_ascii_lowercase) && has(u8::is_ascii_digit)
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
        check("Deploy with OPENAI_KEY=sk-proj4f9QxT2mLw8vZr1Kp", &["issued key"]);
        check("The token is Zr1Kp4f9QxT2mLw8vBn6Hc3Ys7Ud5Ge0Ja", &["token-like string"]);
        // Named, with no value.
        check("Acme API needs a bearer token.", &[]);
        check("The password policy requires 12 characters.", &[]);
        check("The API key is stored in the vault.", &[]);
        // Digests, ids and ordinary text.
        check("Deployed commit 3e49b09c4f1a2b7d8e9f00112233445566778899.", &[]);
        check("Request id 123e4567-e89b-12d3-a456-426614174000 failed", &[]);
        check("User prefers tabs over spaces; the key to the office is at reception.", &[]);
        check("User's café is Ça Va", &[]);
    }
}
