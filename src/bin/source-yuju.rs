//! `source-yuju`: the export as an Airbyte source (see `yuju_export::protocol::airbyte`).

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(yuju_export::protocol::airbyte::main().code())
}
