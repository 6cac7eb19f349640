fn main() {
    // Like other command-line tools, end quietly when the reader of our output goes away
    // (`godwit history | head`) instead of panicking on a broken pipe.
    #[cfg(unix)]
    // SAFETY: called first thing, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(godwit::cli::main());
}
