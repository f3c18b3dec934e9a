//! Secrets in memory: a password, an API key or a card number a user
//! mentions once should not become a lasting entry that every later
//! session, tool and agent sharing the store can read. A change whose
//! resulting entry holds one carries a risk flag, so a person sees it and
//! it is never applied unattended.

/// Words that name a secret, compared ignoring case with each part of a
/// token ("DB_PASSWORD" has the part "PASSWORD"); names of two parts, such
/// as "api_key", are `SECRET_PHRASES`.
const SECRET_WORDS: &[&str] =
    &["password", "passwords", "passwd", "passcode", "passphrase", "apikey", "ssn", "cvv", "iban"];

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
const KEY_PREFIXES: &[(&str, usize)] = &[
    ("sk-", 20),
    ("sk_live_", 24),
    ("ghp_", 36),
    ("github_pat_", 40),
    ("xoxb-", 24),
    ("xoxp-", 24),
    ("AKIA", 20),
];

/// What looks like a secret in `text`, each once, in the order found: a
/// named secret followed by a value in the same clause ("password is
/// hunter2", "API key: sk-12345", "DB_PASSWORD=hunter2"; naming one, as in
/// "needs a bearer token", is not enough), or a token shaped like an
/// issued or generated key.
pub fn secrets(text: &str) -> Vec<&'static str> {
    // Every secret found below has a digit or an underscore in its value,
    // or a key with a digit or a dash: most texts have none, and one read
    // of their bytes, without branching (a vector at a time), says so.
    let marked =
        text.bytes().fold(false, |m, b| m | b.is_ascii_digit() | (b == b'-') | (b == b'_'));
    if !marked {
        return Vec::new();
    }
    let mut found: Vec<&'static str> = Vec::new();
    let mut note = |what: &'static str| {
        if !found.contains(&what) {
            found.push(what);
        }
    };
    let is_token_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    let bytes = text.as_bytes();
    let (mut previous_part, mut named) = ("", None);
    let mut at = 0;
    while at < bytes.len() {
        // The gap before the next token: a clause ends at . , ; ! ?
        let start =
            at + bytes[at..].iter().position(|&b| is_token_byte(b)).unwrap_or(bytes.len() - at);
        if bytes[at..start].iter().any(|b| matches!(b, b'.' | b',' | b';' | b'!' | b'?')) {
            named = None;
            previous_part = "";
        }
        let end = start
            + bytes[start..].iter().position(|&b| !is_token_byte(b)).unwrap_or(bytes.len() - start);
        at = end;
        if start == end {
            break;
        }
        // Token bytes are ASCII, so the slice is on char boundaries.
        let token = &text[start..end];
        if let Some(name) = named.take() {
            if ["is", "was", "are"].iter().any(|w| token.eq_ignore_ascii_case(w)) {
                named = Some(name);
            } else if looks_like_value(token) {
                note(name);
            }
        }
        // Names are read part by part: "DB_PASSWORD", "OPENAI_API_KEY" and
        // "api-key" name secrets as "password" and "API key" do.
        for part in token.split(['-', '_']).filter(|p| !p.is_empty()) {
            if let Some(word) = SECRET_WORDS.iter().find(|w| part.eq_ignore_ascii_case(w)) {
                named = Some(*word);
            }
            for &(first, second, name) in SECRET_PHRASES {
                if previous_part.eq_ignore_ascii_case(first) && part.eq_ignore_ascii_case(second) {
                    named = Some(name);
                }
            }
            previous_part = part;
        }
        if KEY_PREFIXES.iter().any(|&(prefix, min)| token.starts_with(prefix) && token.len() >= min)
        {
            note("issued key");
        } else if looks_random(token) {
            note("token-like string");
        }
    }
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
}
