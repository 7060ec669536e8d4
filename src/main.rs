use std::process::ExitCode;

use yuju_export::{app, cli};

fn main() -> ExitCode {
    let cli = cli::parse();
    ExitCode::from(app::main_with(cli).code())
}
