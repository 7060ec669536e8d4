use std::process::ExitCode;

use yuju_export::app::{self, cli};
use yuju_export::protocol;

/// One file, three commands: run as `tap-yuju` or `source-yuju` (a link
/// or a copy of this binary under that name, as the packages install it),
/// it is that pipeline executable; otherwise `yuju-export`.
fn main() -> ExitCode {
    let exit = match invoked_as().as_deref() {
        Some("tap-yuju") => protocol::singer::main(),
        Some("source-yuju") => protocol::airbyte::main(),
        _ => app::main_with(cli::parse()),
    };
    ExitCode::from(exit.code())
}

/// The name this process was run under, without its directory.
fn invoked_as() -> Option<String> {
    let arg0 = std::env::args_os().next()?;
    let name = std::path::Path::new(&arg0)
        .file_name()?
        .to_string_lossy()
        .into_owned();
    Some(name)
}
