//! The command line, read by hand: four commands and five options do not
//! justify a parser crate on a cold two-core build.

use std::ffi::OsString;
use std::path::PathBuf;

use reverie_core::formats::Format;

/// Where the service is when neither `--url` nor `REVERIE_URL` says.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8787";

pub const USAGE: &str = "\
usage: reverie [--url URL] [--token TOKEN] <command> ...

commands:
  push claude-code DIR --agent A [--rules PROJECT]
        send a Claude Code project folder (~/.claude/projects/<slug>/) to
        agent A: the Markdown files under DIR/memory/ (and, with --rules,
        PROJECT's CLAUDE.md, .claude/CLAUDE.md, CLAUDE.local.md and
        .claude/rules/**/*.md) as one import, and every DIR/*.jsonl
        transcript not sent yet as a session
  push files PATH --agent A [--format FORMAT]
        send memory kept in another format: a folder (an Anthropic memory
        tool's /memories tree, a Letta memory repository: every *.md,
        *.markdown, *.txt, *.json and *.jsonl file under it but hidden
        ones) or one file (an MCP memory.jsonl, a mem0 get_all listing, a
        memory-store listing). FORMAT (markdown, mcp_memory, mem0,
        anthropic_memory_store) is told from the files when not given
  push sessions FILE... --agent A
        send transcripts (Claude Code *.jsonl, OpenAI Responses items,
        Anthropic or OpenAI chat bodies) as sessions, each under its file
        name; one sent before is taken once, one that grew since grows
  pull PATH --agent A
        write the changes approved in Reverie since the push back into the
        files pushed from PATH, after checking none was edited here since
        (each file is backed up to .reverie/backup/ first); for a listing
        (mem0's, a memory store's) write FILE.operations.json, the updates
        and deletes to send to it
  compare BEFORE AFTER --agent A
        send two versions of a memory folder; Reverie proposes the change
        between them for review
  status [PATH] --agent A
        the agent in Reverie, and what PATH (default: the current folder)
        last pushed and pulled

options:
  --url URL      the service (else $REVERIE_URL, else http://127.0.0.1:8787)
  --token TOKEN  a bearer token (else $REVERIE_TOKEN); needed by every command
  -h, --help     this text
  -V, --version  the client's version

State is kept in .reverie/state.json in the folder pushed (for a file, the
folder holding it).
";

/// What to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Push { dir: PathBuf, agent: String, rules: Option<PathBuf> },
    PushFiles { path: PathBuf, agent: String, format: Option<Format> },
    PushSessions { files: Vec<PathBuf>, agent: String },
    Pull { dir: PathBuf, agent: String },
    Compare { before: PathBuf, after: PathBuf, agent: String },
    Status { dir: PathBuf, agent: String },
    Help,
    Version,
}

/// A command with the service it talks to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    pub url: String,
    pub token: String,
    pub command: Command,
}

/// Reads the arguments (without the program name); `env` looks up
/// `REVERIE_URL` and `REVERIE_TOKEN`, so tests need not touch the process.
pub fn parse(
    args: impl IntoIterator<Item = OsString>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Invocation, String> {
    let mut url = None;
    let mut token = None;
    let mut agent = None;
    let mut rules = None;
    let mut format = None;
    let mut positional: Vec<OsString> = Vec::new();
    let mut help = false;
    let mut version = false;
    let mut options_done = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let text = arg.to_str();
        if options_done || !text.is_some_and(|t| t.starts_with('-') && t.len() > 1) {
            positional.push(arg);
            continue;
        }
        let text = text.unwrap_or_default();
        let (name, inline) = match text.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(OsString::from(v))),
            _ => (text, None),
        };
        match name {
            "--" => options_done = true,
            "-h" | "--help" => help = true,
            "-V" | "--version" => version = true,
            "--url" | "--token" | "--agent" | "--rules" | "--format" => {
                let value = match inline.or_else(|| args.next()) {
                    Some(v) => v,
                    None => return Err(format!("{name} needs a value")),
                };
                match name {
                    "--url" => url = Some(utf8(name, value)?),
                    "--token" => token = Some(utf8(name, value)?),
                    "--agent" => agent = Some(utf8(name, value)?),
                    "--format" => format = Some(format_named(&utf8(name, value)?)?),
                    _ => rules = Some(PathBuf::from(value)),
                }
            }
            _ => return Err(format!("unknown option `{name}` (see `reverie --help`)")),
        }
    }
    let first = positional.first().and_then(|p| p.to_str());
    if help || first == Some("help") {
        return Ok(Invocation { url: String::new(), token: String::new(), command: Command::Help });
    }
    if version {
        return Ok(Invocation {
            url: String::new(),
            token: String::new(),
            command: Command::Version,
        });
    }
    let command = command(&positional, agent, rules, format)?;
    let url = url.or_else(|| env("REVERIE_URL")).filter(|u| !u.trim().is_empty());
    let url =
        url.unwrap_or_else(|| DEFAULT_URL.to_string()).trim().trim_end_matches('/').to_string();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!("the service URL must start with http:// or https://, got `{url}`"));
    }
    let token = token.or_else(|| env("REVERIE_TOKEN")).filter(|t| !t.trim().is_empty());
    let Some(token) = token else {
        return Err("no token: pass --token TOKEN or set REVERIE_TOKEN (an admin or ingest \
                    token for the agent)"
            .to_string());
    };
    Ok(Invocation { url, token: token.trim().to_string(), command })
}

fn utf8(name: &str, value: OsString) -> Result<String, String> {
    value.into_string().map_err(|v| format!("{name} must be text, got {v:?}"))
}

/// A format by the name the service gives it.
fn format_named(name: &str) -> Result<Format, String> {
    Format::named(name)
        .ok_or_else(|| format!("unknown format `{name}`: one of {}", Format::names()))
}

fn command(
    positional: &[OsString],
    agent: Option<String>,
    rules: Option<PathBuf>,
    format: Option<Format>,
) -> Result<Command, String> {
    let words: Vec<Option<&str>> = positional.iter().map(|p| p.to_str()).collect();
    let path = |i: usize| PathBuf::from(&positional[i]);
    let need_agent = |what: &str| {
        agent.clone().filter(|a| !a.is_empty()).ok_or_else(|| format!("`{what}` needs --agent A"))
    };
    if rules.is_some() && words.get(..2) != Some(&[Some("push"), Some("claude-code")]) {
        return Err("--rules applies to `push claude-code` only".to_string());
    }
    if format.is_some() && words.get(..2) != Some(&[Some("push"), Some("files")]) {
        return Err("--format applies to `push files` only".to_string());
    }
    match words.as_slice() {
        [] => Err(format!("no command given\n\n{USAGE}")),
        [Some("push"), Some("claude-code"), _] => {
            Ok(Command::Push { dir: path(2), agent: need_agent("push")?, rules })
        }
        [Some("push"), Some("claude-code")] => {
            Err("`push claude-code` needs the project folder: push claude-code DIR".to_string())
        }
        [Some("push"), Some("files"), _] => {
            Ok(Command::PushFiles { path: path(2), agent: need_agent("push")?, format })
        }
        [Some("push"), Some("files"), ..] => {
            Err("`push files` takes one folder or file: push files PATH".to_string())
        }
        [Some("push"), Some("sessions"), _, ..] => Ok(Command::PushSessions {
            files: positional[2..].iter().map(PathBuf::from).collect(),
            agent: need_agent("push")?,
        }),
        [Some("push"), Some(source), ..]
            if !["claude-code", "files", "sessions"].contains(source) =>
        {
            Err(format!(
                "cannot push `{source}`: push claude-code DIR, push files PATH or push sessions \
                 FILE..."
            ))
        }
        [Some("push"), ..] => {
            Err("usage: reverie push claude-code DIR | files PATH | sessions FILE... --agent A"
                .to_string())
        }
        [Some("pull"), _] => Ok(Command::Pull { dir: path(1), agent: need_agent("pull")? }),
        [Some("pull"), ..] => Err("usage: reverie pull DIR --agent A".to_string()),
        [Some("compare"), _, _] => {
            Ok(Command::Compare { before: path(1), after: path(2), agent: need_agent("compare")? })
        }
        [Some("compare"), ..] => Err("usage: reverie compare BEFORE AFTER --agent A".to_string()),
        [Some("status")] => {
            Ok(Command::Status { dir: PathBuf::from("."), agent: need_agent("status")? })
        }
        [Some("status"), _] => Ok(Command::Status { dir: path(1), agent: need_agent("status")? }),
        [Some("status"), ..] => Err("usage: reverie status [DIR] --agent A".to_string()),
        [Some(other), ..] => Err(format!("unknown command `{other}` (see `reverie --help`)")),
        [None, ..] => Err("unknown command (see `reverie --help`)".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn options_go_before_or_after_the_command() {
        let got = parse(
            args(&["--url", "https://r.example/", "push", "claude-code", "d", "--agent=a1"]),
            |k| (k == "REVERIE_TOKEN").then(|| "t0".to_string()),
        )
        .unwrap();
        assert_eq!(got.url, "https://r.example");
        assert_eq!(got.token, "t0");
        assert_eq!(got.command, Command::Push { dir: "d".into(), agent: "a1".into(), rules: None });
        let got =
            parse(args(&["push", "files", "m.json", "--format", "mem0", "--agent", "a"]), |k| {
                (k == "REVERIE_TOKEN").then(|| "t0".to_string())
            })
            .unwrap();
        let format = Some(Format::Mem0);
        assert_eq!(
            got.command,
            Command::PushFiles { path: "m.json".into(), agent: "a".into(), format }
        );
        let got = parse(
            args(&["push", "sessions", "a.jsonl", "b.json", "--agent", "a", "--token", "x"]),
            no_env,
        );
        let files = vec![PathBuf::from("a.jsonl"), PathBuf::from("b.json")];
        assert_eq!(got.unwrap().command, Command::PushSessions { files, agent: "a".into() });
        let got = parse(args(&["status", "--agent", "a", "--token", "x"]), no_env).unwrap();
        assert_eq!(got.url, DEFAULT_URL);
        assert_eq!(got.command, Command::Status { dir: ".".into(), agent: "a".into() });
    }

    #[test]
    fn a_missing_token_is_named_but_help_needs_none() {
        let err = parse(args(&["pull", "d", "--agent", "a"]), no_env).unwrap_err();
        assert!(err.contains("REVERIE_TOKEN"), "{err}");
        assert_eq!(parse(args(&["--help"]), no_env).unwrap().command, Command::Help);
        assert_eq!(parse(args(&["help"]), no_env).unwrap().command, Command::Help);
    }

    #[test]
    fn bad_command_lines_are_explained() {
        let t = |k: &str| (k == "REVERIE_TOKEN").then(|| "t".to_string());
        for (line, says) in [
            (&["push", "cursor", "d", "--agent", "a"][..], "claude-code"),
            (&["push", "sessions", "--agent", "a"][..], "sessions FILE"),
            (&["push", "files", "a", "b", "--agent", "a"][..], "one folder or file"),
            (&["push", "files", "d", "--agent", "a", "--format", "xml"][..], "unknown format"),
            (&["pull", "d", "--agent", "a", "--format", "mem0"][..], "`push files` only"),
            (&["push", "claude-code", "d"][..], "--agent"),
            (&["pull", "d", "--agent", "a", "--rules", "p"][..], "`push claude-code` only"),
            (&["compare", "a", "--agent", "a"][..], "BEFORE AFTER"),
            (&["frobnicate"][..], "unknown command"),
            (&["pull", "d", "--agent"][..], "needs a value"),
            (&["pull", "d", "--agnt", "a"][..], "unknown option"),
            (&["--url", "ftp://x", "pull", "d", "--agent", "a"][..], "http://"),
        ] {
            let err = parse(args(line), t).unwrap_err();
            assert!(err.contains(says), "{line:?}: {err}");
        }
    }
}
