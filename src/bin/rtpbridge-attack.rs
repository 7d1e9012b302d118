//! `rtpbridge-attack`: the attack bench (RTP inject/bleed, STUN spoofing, DTLS ClientHello
//! abuse, IP handover) against NG media relays. See `rtpbridge-attack --help` and the
//! `rtpbridge::attack` module.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(rtpbridge::attack::cli::main(&args));
}
