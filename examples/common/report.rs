//! How the examples end: on an error, its message (not its `Debug` form) on standard error,
//! and exit status 1.

use std::fmt::Display;
use std::process::ExitCode;

/// Exit 0 after `result` succeeded, or print its error and exit 1.
pub fn exit<E: Display>(result: Result<(), E>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let name = std::env::args().next().unwrap_or_default();
            let name = name.rsplit('/').next().unwrap_or("example");
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}
