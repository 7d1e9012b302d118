//! The `rtpbridge` daemon: parse the rtpengine-compatible command line, start the media workers
//! and serve NG until SIGTERM.

use std::process::ExitCode;
use std::sync::Arc;

use rtpbridge::call::Registry;
use rtpbridge::config;
use rtpbridge::media::MediaPlane;
use rtpbridge::ng::udp::{stop_flag, UdpControl};
use rtpbridge::recording::{Recorder, RecordingError, Settings as RecordingSettings};

fn log_filter(level: u8) -> &'static str {
    // rtpengine/syslog levels: 0 emerg .. 3 err, 4 warning, 5 notice, 6 info, 7 debug.
    // tracing has no notice: 5 is info without the per-request lines, which rtpengine too
    // writes at info (6) only.
    match level {
        0..=3 => "error",
        4 => "warn",
        5 => "info,rtpbridge::requests=warn",
        6 => "info",
        _ => "debug",
    }
}

fn daemonize() -> std::io::Result<()> {
    // SAFETY: called before any thread is started; the parent exits at once.
    unsafe {
        match libc::fork() {
            -1 => return Err(std::io::Error::last_os_error()),
            0 => {}
            _ => libc::_exit(0),
        }
        if libc::setsid() == -1 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Pins glibc's mmap threshold at its default (128 KiB). Left dynamic, glibc raises it the first
/// time a large block is freed, and from then on the NG retransmit cache's 256 KiB chunks come
/// from the heap, whose middle is never given back: after a burst of calls the daemon kept
/// tens of MB it no longer used. Mapped separately, a released chunk is returned at once.
fn pin_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

fn main() -> ExitCode {
    pin_mmap_threshold();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cfg = match config::parse_args(args) {
        Ok(c) => c,
        Err(e) if e.is_exit_success() => {
            println!("{e}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("rtpbridge: {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RTPBRIDGE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(log_filter(cfg.log_level))),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
    // Accepted so that rtpengine's command lines start unchanged, but nothing serves them yet.
    if let Some(a) = cfg.listen_cli {
        tracing::warn!(
            "option --listen-cli ({a}): the CLI control socket is not served yet; ignored"
        );
    }
    if let Some(a) = cfg.listen_udp {
        tracing::warn!(
            "option --listen-udp ({a}): the rtpproxy UDP protocol is not served yet; ignored"
        );
    }
    // Recording options are checked before daemonizing; the thread starts after it.
    let recording = match RecordingSettings::from_options(
        cfg.recording_dir.as_deref(),
        cfg.recording_method.as_deref(),
        cfg.recording_format.as_deref(),
    ) {
        Ok(r) => r,
        Err(e @ RecordingError::Method(_)) => {
            tracing::error!("{e}; call recording is disabled");
            None
        }
        Err(e) => {
            eprintln!("rtpbridge: {e}");
            return ExitCode::from(2);
        }
    };
    if !cfg.foreground {
        if let Err(e) = daemonize() {
            tracing::error!("cannot daemonize: {e}");
            return ExitCode::FAILURE;
        }
    }
    if let Some(p) = &cfg.pidfile {
        if let Err(e) = std::fs::write(p, format!("{}\n", std::process::id())) {
            tracing::error!("cannot write pidfile {}: {e}", p.display());
            return ExitCode::FAILURE;
        }
    }
    let stop = match stop_flag() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut ng_addrs = vec![cfg.listen_ng];
    ng_addrs.extend(cfg.listen_ng_alt);
    let mut control = match UdpControl::bind(&ng_addrs) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("cannot listen for NG on {}: {e}", cfg.listen_ng);
            return ExitCode::FAILURE;
        }
    };
    // One certificate for the daemon's life, as rtpengine does: its fingerprint goes into every
    // SDP that offers or answers DTLS-SRTP. Made on the first DTLS call.
    let cert = rtpbridge::dtls::dtls::LazyCert::new(cfg.dtls_cert_kind());
    match rtpbridge::media::ports::raise_fd_limit() {
        Ok(n) => tracing::debug!("open-file limit: {n}"),
        Err(e) => tracing::warn!("cannot raise the open-file limit: {e}"),
    }
    let mut media = match MediaPlane::start(
        cfg.num_threads,
        cfg.port_min,
        cfg.port_max,
        Some(cert.clone()),
        cfg.wakeup_batch_us
            .map(|us| std::time::Duration::from_micros(u64::from(us))),
        cfg.io_engine,
    ) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!("cannot start media workers: {e}");
            return ExitCode::FAILURE;
        }
    };
    media.set_warm_pairs(cfg.warm_ports as usize);
    let cfg = Arc::new(cfg);
    let mut registry = Registry::new(cfg.clone(), media);
    registry.set_dtls_cert(cert);
    if let Some(settings) = recording {
        match Recorder::start(settings) {
            Ok(r) => registry.set_recorder(r),
            Err(e) => {
                tracing::error!("{e}");
                return ExitCode::FAILURE;
            }
        }
    }
    tracing::info!(
        ng = %cfg.listen_ng,
        interfaces = ?cfg.interfaces.iter().map(|i| i.address).collect::<Vec<_>>(),
        ports = format!("{}-{}", cfg.port_min, cfg.port_max),
        "rtpbridge started"
    );
    control.run(&mut registry, &stop);
    tracing::info!(calls = registry.call_count(), "shutting down");
    registry.shutdown();
    if let Some(p) = &cfg.pidfile {
        let _ = std::fs::remove_file(p);
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::log_filter;

    #[test]
    fn notice_level_leaves_out_the_per_request_lines_and_info_has_them() {
        let target = rtpbridge::call::REQUEST_LOG;
        assert!(log_filter(5).contains(&format!("{target}=warn")));
        assert!(!log_filter(6).contains(target));
        for level in 0..=7 {
            // Every filter is one tracing_subscriber accepts.
            tracing_subscriber::EnvFilter::try_new(log_filter(level)).expect("valid filter");
        }
    }
}
