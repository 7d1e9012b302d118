//! `rtpbridge-bench`: load generator and measuring tool for NG media relays. See
//! `rtpbridge-bench --help` and the `rtpbridge::bench` module.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(rtpbridge::bench::cli::main(&args));
}
