//! `reverie`: Reverie's command-line client. It sends memory files (a
//! Claude Code project's, or any format the service reads) and session
//! transcripts to the service, and writes the changes a reviewer approved
//! back into those files, over HTTP only. See `reverie --help`.

mod args;
mod compare;
mod files;
mod http;
mod pull;
mod push;
mod show;
mod state;
mod status;

use std::process::ExitCode;

use args::Command;

fn main() -> ExitCode {
    let invocation = match args::parse(std::env::args_os().skip(1), |k| std::env::var(k).ok()) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("reverie: {e}");
            return ExitCode::from(2);
        }
    };
    let client = http::Client::new(&invocation.url, &invocation.token);
    let result = match &invocation.command {
        Command::Help => {
            print!("{}", args::USAGE);
            Ok(())
        }
        Command::Version => {
            println!("reverie {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Push { dir, agent, rules } => push::run(&client, dir, agent, rules.as_deref()),
        Command::PushFiles { path, agent, format } => push::files(&client, path, agent, *format),
        Command::PushSessions { files, agent } => push::sessions(&client, files, agent),
        Command::Pull { dir, agent } => pull::run(&client, dir, agent),
        Command::Compare { before, after, agent } => compare::run(&client, before, after, agent),
        Command::Status { dir, agent } => status::run(&client, dir, agent),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("reverie: {e}");
            ExitCode::FAILURE
        }
    }
}
