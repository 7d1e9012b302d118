//! `rtpbridge-bench`: load generator and measuring tool for NG media relays. See
//! `rtpbridge-bench --help` and the `rtpbridge::bench` module.

fn main() {
    // A command-line tool whose reader went away (`| head -1`) ends quietly, as other tools
    // do, instead of panicking on the failed print (Rust ignores SIGPIPE by default). Its
    // sockets are all UDP, which never raise the signal.
    // SAFETY: setting a signal's disposition to the default before any thread starts.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(rtpbridge::bench::cli::main(&args));
}
