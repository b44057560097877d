// The stable number of each case of the WIT `error` variant (wit/passcode.wit), written once.
//
// The guest (wit-bindgen) and a wasmtime host (`bindgen!`) each generate their own Rust type
// for the same WIT variant, with the same case names, so one match serves both: this file is
// `include!`d by `component/src/lib.rs` and by `component/wasmtime-host/src/lib.rs`, and each
// expands the macro over its own type. The numbers are core's (`passcode_core::ERROR_TABLE`);
// the tests of both crates check every case against that table, and the gateway's component
// tests check that the guest's `error-number` export and the host agree on every case.

/// Defines `fn error_number(&$error) -> u32` over a generated WIT `error` type.
macro_rules! define_error_number {
    ($(#[$attr:meta])* $vis:vis fn $name:ident($error:ident)) => {
        $(#[$attr])*
        $vis fn $name(e: &$error) -> u32 {
            match e {
                $error::InvalidEmail(_) => 1001,
                $error::InvalidPhone(_) => 1002,
                $error::InputTooLong(_) => 1003,
                $error::InvalidUtf8(_) => 1004,
                $error::InvalidToken => 1005,
                $error::ChannelNotAllowed(_) => 1006,
                $error::InvalidClientAddress => 1007,
                $error::InvalidArgument(_) => 1008,
                $error::ConfigSyntax(_) => 2001,
                $error::UnknownConfigField(_) => 2002,
                $error::PolicyOutOfBounds(_) => 2003,
                $error::WeakKey(_) => 2004,
                $error::KeyUnavailable(_) => 2005,
                $error::InvalidTemplate(_) => 2006,
                $error::WrongCode(_) => 3001,
                $error::Expired => 3002,
                $error::TooManyAttempts => 3003,
                $error::SubjectLocked(_) => 3004,
                $error::NotFound => 3005,
                $error::WrongCodeLocked(_) => 3006,
                $error::ResendTooSoon(_) => 4001,
                $error::SendLimit(_) => 4002,
                $error::DestinationBlocked => 4003,
                $error::StoreUnavailable(_) => 5001,
                $error::Contention => 5002,
                $error::CorruptRecord => 5003,
                $error::RandomUnavailable => 6001,
                $error::ClockOutOfRange => 6002,
                $error::Other((n, _)) => *n,
            }
        }
    };
}

/// The stable kebab-case name of an error number: core's table, `other` for a number newer
/// than it.
fn error_name_of(number: u32) -> &'static str {
    passcode_core::ERROR_TABLE.iter().find(|(n, _)| *n == number).map_or("other", |(_, name)| name)
}
