//! `tap-yuju`: the export as a Singer tap (see `yuju_export::protocol::singer`).

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(yuju_export::protocol::singer::main().code())
}
