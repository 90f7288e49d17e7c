//! Printing commands end like other Unix tools when their reader goes away (`driftfix scan | head`).
//!
//! Rust ignores SIGPIPE, so a write to a closed pipe fails with `EPIPE` and `println!` panics with
//! "failed printing to stdout". Restoring the default action makes the process end silently by
//! SIGPIPE instead, as `cat` or `grep` do. `serve` keeps the signal ignored: it writes only to
//! sockets, where a peer going away is an error to handle, not a reason to stop.

/// Restore the default SIGPIPE action for this process.
pub fn restore_default() {
    // SAFETY: `signal` with a valid signal number and `SIG_DFL` only changes this process's
    // disposition; it is called before any other thread exists that could be writing.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
