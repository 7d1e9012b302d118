//! The `rtpbridge-bench` command line (parsed by hand: `--key value` or `--key=value`).

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use super::floor::{Floor, FloorIo};
use super::load::{self, LoadConfig, LoadResult, Sockets};
use super::ng::{CallDests, NgClient, SdesKeys, Setup, Teardown};
use super::procstat;
use super::BenchError;

pub const HELP: &str = "\
rtpbridge-bench: load and measure an NG-driven media relay (rtpbridge, rtpengine, ...)

USAGE:
  rtpbridge-bench run      --ng ADDR [--pid PID] [LOAD OPTIONS]
  rtpbridge-bench run      --targets NAME=ADDR[,pid=PID] NAME=ADDR[,pid=PID] ... [--rounds R]
  rtpbridge-bench capacity --ng ADDR [--pid PID] [--start N] [--max-calls N]
                           [--max-loss-pct 0.1] [--max-p99-ms 20] [LOAD OPTIONS]
  rtpbridge-bench control  --ng ADDR [--pid PID] [--window 64] [--duration S]
  rtpbridge-bench selftest [LOAD OPTIONS]     (no relay: the bench's own capacity)
  rtpbridge-bench floor    --ng ADDR --ports MIN-MAX [--ip IP] [--io epoll|uring]
                           [--wait-us US]

run: sets up --calls calls through NG (offer + answer, plain RTP/AVP PCMU; with --sdes the
  caller's leg is RTP/SAVP with an SDES key and the callee's plain RTP/AVP), sends RTP both
  ways at --rate packets/s per stream spread evenly over the period, measures over
  --duration seconds after --warmup, deletes the calls. Reports loss, reordering, one-way
  latency p50/p99/max (kernel receive stamp minus the send stamp in the payload), the
  bench's own send lag and CPU, and with a pid the server's CPU (all threads,
  /proc/PID/stat utime+stime), CPU microseconds per relayed packet and RSS. With --targets
  the same load runs against each target in turn (A B C A B C ..., --rounds times) and the
  summary gives the medians, the ratios to the first target and, for three or more
  targets, the CPU-per-packet ratio of every pair. Every run first prints the exact
  command line and the load average.
capacity: the largest call count with loss <= --max-loss-pct and p99 <= --max-p99-ms,
  doubling from --start, then bisecting to --precision (fraction, default 0.05).
control: offer+answer+delete cycles per second with --window requests outstanding.
  Deletes carry delete-delay=0 so the server frees the ports at once.
selftest: every stream goes from one bench socket straight to the other (no relay): the
  packets/s the bench itself can drive, and its CPU per packet.
floor: a minimal single-threaded relay to compare against (offer/answer/delete, symmetric
  latching, nothing else). --io epoll (default): readiness + one recvfrom/sendto per
  packet; --io uring: multishot receives into a provided-buffer ring, sends from the same
  buffer, one io_uring_enter per wake-up; --wait-us US (uring): batched wake-ups, each
  wake-up waits US microseconds for more completions. Runs until killed.

LOAD OPTIONS:
  --calls N[,N...]   calls (each has two streams)          [100]
  --rate PPS         packets per second per stream           [50]
  --payload BYTES    RTP payload size (PCMU: 160)            [160]
  --duration S       measured seconds                        [10]
  --warmup S         unmeasured seconds before               [1]
  --drain-ms MS      receive time after the last send        [500]
  --threads N        sender/receiver threads (socket pairs)   [1]
  --tick-us US       send/receive batching granularity       [200]
  --local-ip IP      the bench's media address               [127.0.0.1]
  --window N         outstanding NG requests during setup    [32]
  --sdes             caller's leg SRTP (SDES, AES_CM_128_HMAC_SHA1_80), callee's plain
                     (same as --mode sdes; default --mode plain)
  --pin CPU[,CPU..]  pin the bench to these CPUs (e.g. keep it off the server's core)
  --rt PRIO          run the bench SCHED_FIFO at PRIO (1-99): on a shared machine other
                     processes otherwise delay its sends (see lag); give the servers the
                     same (chrt -a -f -p PRIO PID) to compare them on equal terms

Each measurement also prints one machine-readable line starting with RESULT.
";

/// A relay to measure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub ng: SocketAddr,
    pub pid: Option<u32>,
}

impl Target {
    /// `NAME=ADDR[,pid=PID]`.
    pub fn parse(s: &str) -> Result<Target, BenchError> {
        let bad = || BenchError::Usage(format!("bad target {s:?} (want NAME=ADDR[,pid=PID])"));
        let (name, rest) = s.split_once('=').ok_or_else(bad)?;
        let mut parts = rest.split(',');
        let ng = parts.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
        let mut pid = None;
        for p in parts {
            match p.split_once('=') {
                Some(("pid", v)) => pid = Some(v.parse().map_err(|_| bad())?),
                _ => return Err(bad()),
            }
        }
        Ok(Target {
            name: name.to_string(),
            ng,
            pid,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Plain,
    Sdes,
}

/// Parsed options (shared by all subcommands; each uses what applies).
#[derive(Debug, Clone)]
pub struct Options {
    pub cmd: String,
    pub targets: Vec<Target>,
    pub calls: Vec<usize>,
    pub load: LoadConfig,
    pub rounds: usize,
    pub local_ip: IpAddr,
    pub window: usize,
    pub mode: Mode,
    pub ports: Option<(u16, u16)>,
    pub ip: IpAddr,
    pub start: usize,
    pub max_calls: usize,
    pub max_loss_pct: f64,
    pub max_p99_ms: f64,
    pub precision: f64,
    pub threads: usize,
    pub floor_io: FloorIo,
    pub pin: Vec<usize>,
    /// SCHED_FIFO priority for the bench.
    pub rt: Option<i32>,
    /// The arguments as given (printed with each run).
    pub argv: Vec<String>,
}

fn num<T: std::str::FromStr>(k: &str, v: &str) -> Result<T, BenchError> {
    v.parse()
        .map_err(|_| BenchError::Usage(format!("{k}: bad value {v:?}")))
}

fn secs(k: &str, v: &str) -> Result<Duration, BenchError> {
    let f: f64 = num(k, v)?;
    if !(0.0..=86400.0).contains(&f) {
        return Err(BenchError::Usage(format!("{k}: out of range")));
    }
    Ok(Duration::from_secs_f64(f))
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Options, BenchError> {
        let mut it = args.iter();
        let cmd = it.next().cloned().unwrap_or_else(|| "help".into());
        let loopback: IpAddr = IpAddr::from([127, 0, 0, 1]);
        let mut o = Options {
            cmd,
            targets: Vec::new(),
            calls: vec![100],
            load: LoadConfig::default(),
            rounds: 1,
            local_ip: loopback,
            window: 32,
            mode: Mode::Plain,
            ports: None,
            ip: loopback,
            start: 50,
            max_calls: 20_000,
            max_loss_pct: 0.1,
            max_p99_ms: 20.0,
            precision: 0.05,
            threads: 1,
            floor_io: FloorIo::Epoll,
            pin: Vec::new(),
            rt: None,
            argv: args.to_vec(),
        };
        let mut io_uring = false;
        let mut wait_us = 0u32;
        let mut ng: Option<SocketAddr> = None;
        let mut pid: Option<u32> = None;
        let mut in_targets = false;
        let mut window_set = false;
        let mut duration_set = false;
        while let Some(arg) = it.next() {
            if in_targets && !arg.starts_with("--") {
                o.targets.push(Target::parse(arg)?);
                continue;
            }
            in_targets = false;
            let (k, inline) = match arg.split_once('=') {
                Some((k, v)) if k.starts_with("--") => (k, Some(v.to_string())),
                _ => (arg.as_str(), None),
            };
            if matches!(k, "-h" | "--help") {
                o.cmd = "help".into();
                return Ok(o);
            }
            if k == "--sdes" && inline.is_none() {
                o.mode = Mode::Sdes;
                continue;
            }
            if k == "--targets" {
                if let Some(v) = inline {
                    o.targets.push(Target::parse(&v)?);
                }
                in_targets = true;
                continue;
            }
            let v = match inline {
                Some(v) => v,
                None => it
                    .next()
                    .cloned()
                    .ok_or_else(|| BenchError::Usage(format!("{k} needs a value")))?,
            };
            match k {
                "--ng" => ng = Some(num(k, &v)?),
                "--pid" => pid = Some(num(k, &v)?),
                "--calls" => {
                    o.calls = v.split(',').map(|c| num(k, c)).collect::<Result<_, _>>()?;
                    if o.calls.contains(&0) {
                        return Err(BenchError::Usage("--calls must be > 0".into()));
                    }
                }
                "--rate" => o.load.rate = num(k, &v)?,
                "--payload" => o.load.payload = num(k, &v)?,
                "--duration" => {
                    o.load.duration = secs(k, &v)?;
                    duration_set = true;
                }
                "--warmup" => o.load.warmup = secs(k, &v)?,
                "--tick-us" => o.load.tick = Duration::from_micros(num(k, &v)?),
                "--drain-ms" => o.load.drain = Duration::from_millis(num(k, &v)?),
                "--rounds" => o.rounds = num::<usize>(k, &v)?.max(1),
                "--local-ip" => o.local_ip = num(k, &v)?,
                "--ip" => o.ip = num(k, &v)?,
                "--window" => {
                    o.window = num::<usize>(k, &v)?.max(1);
                    window_set = true;
                }
                "--mode" => {
                    o.mode = match v.as_str() {
                        "plain" => Mode::Plain,
                        "sdes" => Mode::Sdes,
                        _ => return Err(BenchError::Usage(format!("--mode: {v:?}"))),
                    }
                }
                "--ports" => {
                    let (a, b) = v
                        .split_once('-')
                        .ok_or_else(|| BenchError::Usage("--ports MIN-MAX".into()))?;
                    o.ports = Some((num(k, a)?, num(k, b)?));
                }
                "--start" => o.start = num::<usize>(k, &v)?.max(1),
                "--max-calls" => o.max_calls = num(k, &v)?,
                "--max-loss-pct" => o.max_loss_pct = num(k, &v)?,
                "--max-p99-ms" => o.max_p99_ms = num(k, &v)?,
                "--threads" => o.threads = num::<usize>(k, &v)?.clamp(1, 64),
                "--precision" => o.precision = num(k, &v)?,
                "--io" => {
                    io_uring = match v.as_str() {
                        "epoll" => false,
                        "uring" | "io_uring" => true,
                        _ => return Err(BenchError::Usage(format!("--io: {v:?}"))),
                    }
                }
                "--wait-us" => wait_us = num(k, &v)?,
                "--rt" => {
                    let p: i32 = num(k, &v)?;
                    if !(1..=99).contains(&p) {
                        return Err(BenchError::Usage("--rt: priority 1..99".into()));
                    }
                    o.rt = Some(p);
                }
                "--pin" => {
                    o.pin = v.split(',').map(|c| num(k, c)).collect::<Result<_, _>>()?;
                }
                _ => {
                    return Err(BenchError::Usage(format!(
                        "unknown option {k} (see --help)"
                    )))
                }
            }
        }
        if let Some(ng) = ng {
            o.targets.insert(
                0,
                Target {
                    name: "target".into(),
                    ng,
                    pid,
                },
            );
        } else if let (Some(pid), Some(t)) = (pid, o.targets.first_mut()) {
            t.pid = t.pid.or(Some(pid));
        }
        if io_uring {
            o.floor_io = FloorIo::Uring { wait_us };
        } else if wait_us > 0 {
            return Err(BenchError::Usage("--wait-us needs --io uring".into()));
        }
        if o.cmd == "control" && !window_set {
            o.window = 64;
        }
        if o.cmd == "control" && !duration_set {
            o.load.duration = Duration::from_secs(5);
        }
        if o.cmd == "capacity" && !duration_set {
            o.load.duration = Duration::from_secs(5);
        }
        Ok(o)
    }
}

/// Entry point of the binary; returns the process exit code.
pub fn main(args: &[String]) -> i32 {
    let res = Options::parse(args).and_then(|o| dispatch(&o));
    match res {
        Ok(()) => 0,
        Err(BenchError::Usage(m)) => {
            eprintln!("rtpbridge-bench: {m}\n\n{HELP}");
            2
        }
        Err(e) => {
            eprintln!("rtpbridge-bench: {e}");
            1
        }
    }
}

fn dispatch(o: &Options) -> Result<(), BenchError> {
    pin(&o.pin)?;
    if let Some(prio) = o.rt {
        let param = libc::sched_param {
            sched_priority: prio,
        };
        // SAFETY: sched_setscheduler on this process with a valid parameter block.
        if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) } != 0 {
            return Err(BenchError::Io(std::io::Error::last_os_error()));
        }
    }
    match o.cmd.as_str() {
        "help" | "-h" | "--help" => {
            print!("{HELP}");
            Ok(())
        }
        "run" => cmd_run(o),
        "capacity" => cmd_capacity(o),
        "control" => cmd_control(o),
        "selftest" => cmd_selftest(o),
        "floor" => cmd_floor(o),
        c => Err(BenchError::Usage(format!("unknown command {c:?}"))),
    }
}

fn need_target(o: &Options) -> Result<&Target, BenchError> {
    o.targets
        .first()
        .ok_or_else(|| BenchError::Usage("--ng ADDR (or --targets) is required".into()))
}

fn unique_prefix(tag: &str) -> String {
    format!(
        "bench-{}-{:08x}-{tag}",
        std::process::id(),
        rand::random::<u32>()
    )
}

/// Sets up `calls` calls on `t`, runs the load, deletes them. With `--threads N` the calls
/// are split over N shards, each with its own socket pair and thread, on one schedule.
pub fn measure(
    t: &Target,
    shards: &[Sockets],
    calls: usize,
    o: &Options,
    tag: &str,
) -> Result<LoadResult, BenchError> {
    let n_shards = shards.len().clamp(1, calls.max(1));
    let mut client = NgClient::connect(t.ng)?;
    let mut plans = Vec::with_capacity(n_shards);
    for (si, socks) in shards.iter().take(n_shards).enumerate() {
        let n = calls / n_shards + usize::from(si < calls % n_shards);
        let (a, b) = socks.addrs()?;
        let prefix = unique_prefix(&format!("{tag}-s{si}"));
        let mut setup = Setup::new(&prefix, a, b, n, false);
        if o.mode == Mode::Sdes {
            setup = setup.with_sdes();
        }
        let res = client.pipeline(&mut setup, n, o.window, None);
        let dests: Vec<CallDests> = setup.dests.iter().flatten().copied().collect();
        let keys: Option<Vec<SdesKeys>> = setup
            .sdes
            .then(|| setup.keys.iter().flatten().cloned().collect());
        let complete = dests.len() == n && keys.as_ref().is_none_or(|k| k.len() == n);
        let set_up = dests.len();
        drop(setup);
        plans.push((prefix, dests, keys));
        if let Err(e) = res.and_then(|_| {
            complete
                .then_some(())
                .ok_or_else(|| BenchError::Ng(format!("only {set_up} of {n} calls were set up")))
        }) {
            // Delete what was set up before giving up.
            for (prefix, _, _) in &plans {
                let mut td = Teardown { prefix };
                let _ = client.pipeline(&mut td, n, o.window, None);
            }
            return Err(e);
        }
        socks.flush();
    }
    let dests: Vec<(&[CallDests], Option<&[SdesKeys]>)> = plans
        .iter()
        .map(|(_, d, k)| (d.as_slice(), k.as_deref()))
        .collect();
    let results = run_shards(shards, &dests, o, t.pid);
    let mut teardown_err = None;
    for (prefix, dests, _) in &plans {
        let mut td = Teardown { prefix };
        if let Err(e) = client.pipeline(&mut td, dests.len(), o.window, None) {
            teardown_err.get_or_insert(e);
        }
    }
    let total = results?;
    match teardown_err {
        Some(e) => Err(e),
        None => Ok(total),
    }
}

/// Runs shard `i`'s calls `dests[i]` on `shards[i]`, one thread each, on one schedule, and
/// merges the results (shard 0 reads the server's CPU).
fn run_shards(
    shards: &[Sockets],
    dests: &[(&[CallDests], Option<&[SdesKeys]>)],
    o: &Options,
    pid: Option<u32>,
) -> Result<LoadResult, BenchError> {
    let n_shards = dests.len().max(1);
    let epoch = load::now_ns() + 20_000_000;
    let period = Duration::from_nanos(1_000_000_000 / u64::from(o.load.rate.max(1)));
    let results: Vec<Result<LoadResult, BenchError>> = std::thread::scope(|sc| {
        let handles: Vec<_> = dests
            .iter()
            .zip(shards)
            .enumerate()
            .map(|(si, (&(dests, keys), socks))| {
                let cfg = LoadConfig {
                    pid: if si == 0 { pid } else { None },
                    epoch: Some(epoch),
                    // Each shard spreads its streams over the period; shards interleave.
                    phase: period * si as u32 / (n_shards as u32 * 2 * dests.len().max(1) as u32),
                    ..o.load.clone()
                };
                sc.spawn(move || load::run(socks, dests, keys, &cfg))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(BenchError::Ng("load thread panicked".into())))
            })
            .collect()
    });
    let mut total: Option<LoadResult> = None;
    for r in results {
        let r = r?;
        match total.as_mut() {
            None => total = Some(r),
            Some(tot) => tot.merge(&r),
        }
    }
    total.ok_or_else(|| BenchError::Usage("no calls".into()))
}

fn bind_shards(o: &Options) -> Result<Vec<Sockets>, BenchError> {
    (0..o.threads.max(1))
        .map(|_| Sockets::bind(o.local_ip).map_err(BenchError::from))
        .collect()
}

fn print_result(name: &str, round: usize, r: &LoadResult) {
    let opt = |v: Option<f64>, p: usize| v.map_or("-".to_string(), |v| format!("{v:.p$}"));
    println!(
        "{name:>10} r{round} calls={:<5} sent={:<8} loss={:.3}% reord={} lat p50/p99/max={}/{}/{} us \
         lag p99={} us  cpu/pkt={} us load={} rss={} kB bench={:.0}%{}",
        r.calls,
        r.sent,
        r.loss_pct(),
        r.reordered,
        r.latency.quantile(0.5),
        r.latency.quantile(0.99),
        r.latency.max(),
        r.lag.quantile(0.99),
        opt(r.cpu_us_per_packet(), 2),
        opt(r.server_load(), 2),
        r.server_rss_kb.map_or("-".to_string(), |v| v.to_string()),
        r.bench_load() * 100.0,
        if r.srtp_errors > 0 {
            format!(" srtp_errors={}", r.srtp_errors)
        } else {
            String::new()
        },
    );
    if r.bench_load() > BENCH_LOAD_WARN {
        println!(
            "{name:>10} r{round} WARNING: the bench used {:.0}% of a core: it may be what limits \
             this run (use --threads, or fewer calls)",
            r.bench_load() * 100.0
        );
    }
    if r.lag.quantile(0.99) > BENCH_LAG_WARN_US {
        println!(
            "{name:>10} r{round} WARNING: the bench itself ran late (send lag p99 {} ms): its \
             core was busy, so this run's latency and loss say little about the server",
            r.lag.quantile(0.99) / 1000
        );
    }
    println!(
        "RESULT target={name} round={round} {} loadavg={}",
        r.kv(),
        loadavg().map_or("-".to_string(), |l| format!("{:.2}", l[0]))
    );
}

/// Bench CPU (fraction of a core) above which a run is flagged as possibly bench-limited.
pub const BENCH_LOAD_WARN: f64 = 0.9;

/// The 1, 5 and 15 minute load averages (`/proc/loadavg`).
pub fn loadavg() -> Option<[f64; 3]> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut f = s.split_ascii_whitespace().map(|v| v.parse::<f64>().ok());
    Some([f.next()??, f.next()??, f.next()??])
}

/// `args` as one shell command line (quoted where needed).
pub fn command_line(args: &[String]) -> String {
    let quote = |a: &String| {
        let plain = !a.is_empty()
            && a.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_=.,:/@%+".contains(&b));
        if plain {
            a.clone()
        } else {
            format!("'{}'", a.replace('\'', "'\\''"))
        }
    };
    std::iter::once("rtpbridge-bench".to_string())
        .chain(args.iter().map(quote))
        .collect::<Vec<_>>()
        .join(" ")
}

fn print_header(o: &Options) {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("# {}", command_line(&o.argv));
    println!(
        "# {} CPU(s) available to the bench{}{}, load average {}",
        cpus,
        if o.pin.is_empty() {
            String::new()
        } else {
            format!(" (pinned to {:?})", o.pin)
        },
        o.rt.map_or(String::new(), |p| format!(", SCHED_FIFO {p}")),
        loadavg().map_or("-".to_string(), |l| format!(
            "{:.2} {:.2} {:.2}",
            l[0], l[1], l[2]
        ))
    );
}

fn print_footer() {
    println!(
        "# load average at the end {}",
        loadavg().map_or("-".to_string(), |l| format!(
            "{:.2} {:.2} {:.2}",
            l[0], l[1], l[2]
        ))
    );
}

/// Pins this process (and the threads it starts later) to `cpus`.
fn pin(cpus: &[usize]) -> Result<(), BenchError> {
    if cpus.is_empty() {
        return Ok(());
    }
    // SAFETY: cpu_set_t is plain data; CPU_SET stays within it for cpu < CPU_SETSIZE.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus {
            if c >= libc::CPU_SETSIZE as usize {
                return Err(BenchError::Usage(format!("--pin: no CPU {c}")));
            }
            libc::CPU_SET(c, &mut set);
        }
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(BenchError::Io(std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// Send lag (p99) above which a run is flagged as limited by the bench, not the server.
pub const BENCH_LAG_WARN_US: u64 = 20_000;

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn cmd_run(o: &Options) -> Result<(), BenchError> {
    need_target(o)?;
    print_header(o);
    let socks = bind_shards(o)?;
    for &calls in &o.calls {
        // results[target][round]
        let mut results: Vec<Vec<LoadResult>> = vec![Vec::new(); o.targets.len()];
        for round in 0..o.rounds {
            for (ti, t) in o.targets.iter().enumerate() {
                let r = measure(t, &socks, calls, o, &format!("{}-{round}", t.name))?;
                print_result(&t.name, round, &r);
                results[ti].push(r);
            }
        }
        if o.targets.len() > 1 || o.rounds > 1 {
            summary(o, calls, &results);
        }
    }
    print_footer();
    Ok(())
}

fn summary(o: &Options, calls: usize, results: &[Vec<LoadResult>]) {
    println!("--- {calls} calls, median of {} round(s) ---", o.rounds);
    println!(
        "{:>10} {:>8} {:>9} {:>9} {:>9} {:>10} {:>7} {:>9} {:>11} {:>10}",
        "target",
        "loss%",
        "p50 us",
        "p99 us",
        "max us",
        "cpu/pkt us",
        "load",
        "rss kB",
        "cpu ratio",
        "p99 ratio"
    );
    let stat = |rs: &[LoadResult], f: &dyn Fn(&LoadResult) -> Option<f64>| {
        median(rs.iter().filter_map(f).collect())
    };
    let base_cpu = results
        .first()
        .and_then(|r| stat(r, &|r| r.cpu_us_per_packet()));
    let base_p99 = results
        .first()
        .and_then(|r| stat(r, &|r| Some(r.latency.quantile(0.99) as f64)));
    let fmt = |v: Option<f64>, p: usize| v.map_or("-".to_string(), |v| format!("{v:.p$}"));
    for (t, rs) in o.targets.iter().zip(results) {
        let cpu = stat(rs, &|r| r.cpu_us_per_packet());
        let p99 = stat(rs, &|r| Some(r.latency.quantile(0.99) as f64));
        let ratio = |v: Option<f64>, b: Option<f64>| match (v, b) {
            (Some(v), Some(b)) if b > 0.0 => Some(v / b),
            _ => None,
        };
        println!(
            "{:>10} {:>8} {:>9} {:>9} {:>9} {:>10} {:>7} {:>9} {:>11} {:>10}",
            t.name,
            fmt(stat(rs, &|r| Some(r.loss_pct())), 3),
            fmt(stat(rs, &|r| Some(r.latency.quantile(0.5) as f64)), 0),
            fmt(p99, 0),
            fmt(stat(rs, &|r| Some(r.latency.max() as f64)), 0),
            fmt(cpu, 2),
            fmt(stat(rs, &|r| r.server_load()), 2),
            fmt(stat(rs, &|r| r.server_rss_kb.map(|v| v as f64)), 0),
            fmt(ratio(cpu, base_cpu), 2),
            fmt(ratio(p99, base_p99), 2),
        );
        println!(
            "SUMMARY calls={calls} target={} loss_pct={} lat_p50_us={} lat_p99_us={} cpu_us_per_pkt={} cpu_ratio={} p99_ratio={}",
            t.name,
            fmt(stat(rs, &|r| Some(r.loss_pct())), 4),
            fmt(stat(rs, &|r| Some(r.latency.quantile(0.5) as f64)), 0),
            fmt(p99, 0),
            fmt(cpu, 3),
            fmt(ratio(cpu, base_cpu), 3),
            fmt(ratio(p99, base_p99), 3),
        );
    }
    if results.len() >= 3 {
        let cpus: Vec<Option<f64>> = results
            .iter()
            .map(|rs| stat(rs, &|r| r.cpu_us_per_packet()))
            .collect();
        println!("CPU per relayed packet, row / column:");
        print!("{:>12}", "");
        for t in &o.targets {
            print!(" {:>12}", t.name);
        }
        println!();
        for (t, row) in o.targets.iter().zip(&cpus) {
            print!("{:>12}", t.name);
            for col in &cpus {
                let r = match (row, col) {
                    (Some(a), Some(b)) if *b > 0.0 => format!("{:.2}", a / b),
                    _ => "-".into(),
                };
                print!(" {r:>12}");
            }
            println!();
        }
    }
}

fn passes(o: &Options, r: &LoadResult) -> bool {
    r.loss_pct() <= o.max_loss_pct && (r.latency.quantile(0.99) as f64) <= o.max_p99_ms * 1000.0
}

fn cmd_capacity(o: &Options) -> Result<(), BenchError> {
    let t = need_target(o)?;
    print_header(o);
    let socks = bind_shards(o)?;
    let mut good = 0usize;
    let mut bad: Option<usize> = None;
    let mut n = o.start.min(o.max_calls).max(1);
    let try_n = |n: usize| -> Result<bool, BenchError> {
        let r = measure(t, &socks, n, o, &format!("cap{n}"))?;
        print_result(&t.name, 0, &r);
        let ok = passes(o, &r);
        println!("  {n} calls: {}", if ok { "pass" } else { "FAIL" });
        Ok(ok)
    };
    // Doubling.
    loop {
        if try_n(n)? {
            good = n;
            if n >= o.max_calls {
                break;
            }
            n = (n * 2).min(o.max_calls);
        } else {
            bad = Some(n);
            break;
        }
    }
    // Bisection.
    if let Some(mut hi) = bad {
        let mut lo = good;
        while hi - lo > 1 && (hi - lo) as f64 > o.precision * hi as f64 {
            let mid = lo + (hi - lo) / 2;
            if try_n(mid)? {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        good = lo;
    }
    println!(
        "CAPACITY target={} calls={good} (loss <= {}%, p99 <= {} ms, {} pps/stream)",
        t.name, o.max_loss_pct, o.max_p99_ms, o.load.rate
    );
    print_footer();
    Ok(())
}

fn cmd_control(o: &Options) -> Result<(), BenchError> {
    let t = need_target(o)?;
    print_header(o);
    let socks = Sockets::bind(o.local_ip)?;
    let (a, b) = socks.addrs()?;
    let prefix = unique_prefix("ctl");
    let mut client = NgClient::connect(t.ng)?;
    let mut flow = Setup::new(&prefix, a, b, 0, true);
    if o.mode == Mode::Sdes {
        flow = flow.with_sdes();
    }
    let cpu0 = t.pid.map(procstat::cpu_time).transpose()?;
    let deadline = std::time::Instant::now() + o.load.duration;
    let st = client.pipeline(&mut flow, usize::MAX, o.window, Some(deadline))?;
    let cpu = match (t.pid, cpu0) {
        (Some(pid), Some(c0)) => Some(procstat::cpu_time(pid)?.saturating_sub(c0)),
        _ => None,
    };
    let secs = o.load.duration.as_secs_f64().max(1e-9);
    let rate = st.jobs_in_time as f64 / secs;
    let cpu_us = cpu.map(|c| c.as_secs_f64() * 1e6 / st.jobs_completed.max(1) as f64);
    println!(
        "{}: {:.0} offer+answer+delete cycles/s (window {}, {} cycles, {} retransmits){}",
        t.name,
        rate,
        o.window,
        st.jobs_completed,
        st.retransmits,
        cpu_us.map_or(String::new(), |c| format!(", server {c:.1} us CPU/cycle"))
    );
    println!(
        "RESULT target={} cycles_per_s={rate:.1} cycles={} retransmits={} window={} cpu_us_per_cycle={}",
        t.name,
        st.jobs_completed,
        st.retransmits,
        o.window,
        cpu_us.map_or("-".to_string(), |c| format!("{c:.2}"))
    );
    print_footer();
    Ok(())
}

fn cmd_selftest(o: &Options) -> Result<(), BenchError> {
    if o.mode == Mode::Sdes {
        return Err(BenchError::Usage(
            "selftest measures the plain path (an SDES run reports the bench's CPU itself)".into(),
        ));
    }
    print_header(o);
    let shards = bind_shards(o)?;
    for &calls in &o.calls {
        let n = shards.len().min(calls);
        let mut dests = Vec::with_capacity(n);
        for (si, socks) in shards.iter().take(n).enumerate() {
            socks.flush();
            dests.push(load::direct_calls(
                socks,
                calls / n + usize::from(si < calls % n),
            )?);
        }
        let d: Vec<(&[CallDests], Option<&[SdesKeys]>)> =
            dests.iter().map(|d| (d.as_slice(), None)).collect();
        let r = run_shards(&shards, &d, o, None)?;
        print_result("selftest", 0, &r);
        let cpu_us = r.bench_cpu.as_secs_f64() * 1e6 / r.sent.max(1) as f64;
        println!(
            "selftest: {calls} calls, {n} thread(s): sent {:.0} packets/s ({:.0} per direction) \
             and received {:.0}/s; bench CPU {:.0}% of a core, {cpu_us:.2} us per packet \
             (send + receive) -> about {:.0} packets/s per direction per core at 100%",
            r.send_pps(),
            r.send_pps() / 2.0,
            r.received as f64 / r.window.as_secs_f64().max(1e-9),
            r.bench_load() * 100.0,
            1e6 / cpu_us.max(1e-9) / 2.0,
        );
    }
    print_footer();
    Ok(())
}

fn cmd_floor(o: &Options) -> Result<(), BenchError> {
    let t = need_target(o)?;
    let ports = o
        .ports
        .ok_or_else(|| BenchError::Usage("floor needs --ports MIN-MAX".into()))?;
    let mut f = Floor::bind(t.ng, o.ip, ports)?.with_io(o.floor_io);
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone())?;
    }
    let engine = match o.floor_io {
        FloorIo::Epoll => "epoll".to_string(),
        FloorIo::Uring { wait_us: 0 } => "io_uring".to_string(),
        FloorIo::Uring { wait_us } => format!("io_uring, batched wake-ups of {wait_us} us"),
    };
    eprintln!(
        "floor relay ({engine}): NG on {}, media {}:{}-{}",
        f.ng_addr()?,
        o.ip,
        ports.0,
        ports.1
    );
    f.run(&stop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_targets_and_options() {
        let o = Options::parse(&args(
            "run --targets a=127.0.0.1:2223,pid=10 b=127.0.0.1:2224 --calls 200,500 --rounds=3 --rate 25",
        ))
        .unwrap();
        assert_eq!(o.targets.len(), 2);
        assert_eq!(o.targets[0].pid, Some(10));
        assert_eq!(o.targets[1].name, "b");
        assert_eq!(o.targets[1].pid, None);
        assert_eq!(o.calls, vec![200, 500]);
        assert_eq!(o.rounds, 3);
        assert_eq!(o.load.rate, 25);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(Options::parse(&args("run --calls x")).is_err());
        assert!(Options::parse(&args("run --bogus 1")).is_err());
        assert!(Options::parse(&args("run --targets nope")).is_err());
        assert!(Options::parse(&args("run --calls")).is_err());
        let o = Options::parse(&args("floor --ng 127.0.0.1:1 --ports 3000-3100")).unwrap();
        assert_eq!(o.ports, Some((3000, 3100)));
        assert_eq!(Options::parse(&args("run -h")).unwrap().cmd, "help");
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }
}
