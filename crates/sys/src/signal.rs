//! Signal dispositions a command-line program wants.

/// Restores the default action of `SIGPIPE` (the Rust runtime ignores it,
/// so a write to a closed pipe is an error that `println!` panics on):
/// with the default, `bpfld ... | head` ends quietly when `head` exits,
/// as `cat` or `grep` do.
pub fn default_sigpipe() {
    // SAFETY: setting a signal's disposition to SIG_DFL installs no
    // handler and touches no memory of this process.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
