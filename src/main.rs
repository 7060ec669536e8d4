use std::process::ExitCode;

use clap::Parser;
use yuju_export::{app, cli::Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    ExitCode::from(app::main_with(cli).code())
}
