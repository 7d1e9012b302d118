//! Command line tokenizer with glib's option syntax (which rtpengine uses).
//!
//! Accepted forms:
//! - `--name=value`, `--name value` (the next argument is taken as the value whatever it looks
//!   like, so `--table -1` works), `--flag`.
//! - `-x value`, grouped flags `-fE`, and glib's grouping of a value option with flags where the
//!   value comes from the next argument (`-Lf 7` is `-L 7 -f`).
//! - Beyond glib: a value attached to a short option, `-L7`, `-n2223`, `-t-1`. In a group, the
//!   rest after a value option is its value unless every remaining character is itself a known
//!   short option (then glib's reading above applies).
//! - Beyond glib: `--flag=BOOL` (`true`/`false`/...). glib accepts `--flag=anything` and treats
//!   it as present, so `--foreground=false` would turn it *on*; we honour the boolean instead and
//!   reject other values.
//! - `-h`, `-?`, `--help`, `--help-all` ask for help; `--` ends option parsing.
//! - Other arguments are not options; rtpengine ignores them, we report them as positional.

use super::ini::parse_bool;
use super::options::{by_long, by_short, Kind, OptSpec};
use super::ConfigError;

/// Upper bound on the number of arguments.
pub(crate) const MAX_ARGS: usize = 4096;
/// Upper bound on the length of one argument.
const MAX_ARG_BYTES: usize = 64 * 1024;

/// One recognised option with its raw value (`None` for flags given without `=BOOL`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CliOpt {
    pub spec: &'static OptSpec,
    /// For flags: `Some("false")`-like strings were already turned into `flag`.
    pub value: Option<String>,
    /// Value of a flag (always `true` unless `--flag=false`).
    pub flag: bool,
}

/// The command line split into options and other arguments.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct CliArgs {
    pub opts: Vec<CliOpt>,
    pub positional: Vec<String>,
    pub help: bool,
}

impl CliArgs {
    /// The last value given for an option (`None` if not given).
    pub(crate) fn last_value(&self, long: &str) -> Option<&str> {
        self.opts
            .iter()
            .rev()
            .find(|o| o.spec.long == long)
            .and_then(|o| o.value.as_deref())
    }

    /// Whether a flag option ended up set.
    pub(crate) fn flag(&self, long: &str) -> bool {
        self.opts
            .iter()
            .rev()
            .find(|o| o.spec.long == long)
            .is_some_and(|o| o.flag)
    }
}

fn unknown(spelled: &str) -> ConfigError {
    ConfigError::UnknownOption(spelled.to_string())
}

fn missing(spec: &OptSpec) -> ConfigError {
    ConfigError::MissingValue {
        option: spec.long.to_string(),
    }
}

/// Split `args` (without the program name). Stops at the first help request.
pub(crate) fn tokenize<I, S>(args: I) -> Result<CliArgs, ConfigError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let args: Vec<String> = args
        .into_iter()
        .take(MAX_ARGS + 1)
        .map(|s| s.as_ref().to_string())
        .collect();
    if args.len() > MAX_ARGS {
        return Err(ConfigError::TooManyArguments(MAX_ARGS));
    }
    if let Some(long) = args.iter().find(|a| a.len() > MAX_ARG_BYTES) {
        let head: String = long.chars().take(40).collect();
        return Err(ConfigError::InvalidValue {
            option: String::new(),
            value: format!("{head}..."),
            reason: format!("argument longer than {MAX_ARG_BYTES} bytes"),
        });
    }

    let mut out = CliArgs::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            out.positional.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(body) = arg.strip_prefix("--") {
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            if name == "help" || name == "help-all" {
                out.help = true;
                return Ok(out);
            }
            let spec = by_long(name).ok_or_else(|| unknown(arg))?;
            if spec.kind == Kind::Flag {
                let flag = match inline {
                    None => true,
                    Some(v) => parse_bool(v).ok_or_else(|| ConfigError::UnexpectedValue {
                        option: spec.long.to_string(),
                        value: v.to_string(),
                    })?,
                };
                out.opts.push(CliOpt {
                    spec,
                    value: None,
                    flag,
                });
                continue;
            }
            let value = match inline {
                Some(v) => v.to_string(),
                None => {
                    let v = args.get(i).ok_or_else(|| missing(spec))?;
                    i += 1;
                    v.clone()
                }
            };
            out.opts.push(CliOpt {
                spec,
                value: Some(value),
                flag: false,
            });
            continue;
        }
        let Some(group) = arg.strip_prefix('-').filter(|g| !g.is_empty()) else {
            out.positional.push(arg.clone());
            continue;
        };
        // A group of short options. Value options whose value is not attached take the next
        // arguments, in order.
        let chars: Vec<char> = group.chars().collect();
        let mut pending: Vec<usize> = Vec::new();
        let mut pos = 0;
        while pos < chars.len() {
            let c = chars[pos];
            pos += 1;
            if c == 'h' || c == '?' {
                out.help = true;
                return Ok(out);
            }
            let spec = by_short(c).ok_or_else(|| unknown(&format!("-{c}")))?;
            if spec.kind == Kind::Flag {
                out.opts.push(CliOpt {
                    spec,
                    value: None,
                    flag: true,
                });
                continue;
            }
            let rest = &chars[pos..];
            let rest_are_options = rest
                .iter()
                .all(|&r| r == 'h' || r == '?' || by_short(r).is_some());
            if rest.is_empty() || rest_are_options {
                // Keep the option's position in the order so "last one wins" stays right.
                pending.push(out.opts.len());
                out.opts.push(CliOpt {
                    spec,
                    value: None,
                    flag: false,
                });
                continue;
            }
            out.opts.push(CliOpt {
                spec,
                value: Some(rest.iter().collect()),
                flag: false,
            });
            break;
        }
        // Fill the pending values from the following arguments.
        for idx in pending {
            let slot = &mut out.opts[idx];
            let v = args.get(i).ok_or_else(|| missing(slot.spec))?;
            i += 1;
            slot.value = Some(v.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Render options as `long=value` / `long` / `!long` for compact comparisons.
    fn render(args: &[&str]) -> Result<Vec<String>, ConfigError> {
        let parsed = tokenize(args)?;
        let mut out: Vec<String> = parsed
            .opts
            .iter()
            .map(|o| match (&o.value, o.spec.kind) {
                (_, Kind::Flag) if o.flag => o.spec.long.to_string(),
                (_, Kind::Flag) => format!("!{}", o.spec.long),
                (Some(v), _) => format!("{}={v}", o.spec.long),
                (None, _) => format!("{}=<none>", o.spec.long),
            })
            .collect();
        out.extend(parsed.positional.iter().map(|p| format!("+{p}")));
        if parsed.help {
            out.push("HELP".into());
        }
        Ok(out)
    }

    #[test]
    fn accepted_forms() {
        let cases: &[(&[&str], &[&str])] = &[
            (&["--table=-1"], &["table=-1"]),
            (&["--table", "-1"], &["table=-1"]),
            (&["-t", "-1"], &["table=-1"]),
            (&["-t-1"], &["table=-1"]),
            (&["-L7"], &["log-level=7"]),
            (&["-L", "7"], &["log-level=7"]),
            (&["--log-level", "7"], &["log-level=7"]),
            (&["-n2223"], &["listen-ng=2223"]),
            (&["-fE"], &["foreground", "log-stderr"]),
            (&["-Lf", "7"], &["log-level=7", "foreground"]),
            (&["-fL", "7"], &["foreground", "log-level=7"]),
            (&["-fL7"], &["foreground", "log-level=7"]),
            (
                &["-mM", "1000", "2000"],
                &["port-min=1000", "port-max=2000"],
            ),
            (&["-i", "foo/203.0.113.1"], &["interface=foo/203.0.113.1"]),
            (&["-ifoo/1.2.3.4"], &["interface=foo/1.2.3.4"]),
            (&["--interface="], &["interface="]),
            (&["--foreground"], &["foreground"]),
            (&["--foreground=false"], &["!foreground"]),
            (&["--foreground=TRUE"], &["foreground"]),
            (&["--silence-detect=1"], &["silence-detect=1"]),
            (&["--config-file", "none"], &["config-file=none"]),
            (&["-i", "-f"], &["interface=-f"]),
            (&["stray", "-f"], &["foreground", "+stray"]),
            (&["-", "-f"], &["foreground", "+-"]),
            (&["-f", "--", "-E", "x"], &["foreground", "+-E", "+x"]),
            (&["-y", "1"], &["redis-delete-async=1"]),
            (&["-F"], &["no-fallback"]),
        ];
        for (args, want) in cases {
            let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
            assert_eq!(render(args).unwrap(), want, "{args:?}");
        }
    }

    #[test]
    fn help_requests() {
        for args in [
            &["-h"][..],
            &["--help"],
            &["-?"],
            &["--help-all"],
            &["-f", "-h", "--bogus"],
            &["-fh"],
        ] {
            assert!(tokenize(args).unwrap().help, "{args:?}");
        }
    }

    #[test]
    fn errors() {
        let cases: &[(&[&str], ConfigError)] = &[
            (&["--bogus"], ConfigError::UnknownOption("--bogus".into())),
            (
                &["--bogus=1"],
                ConfigError::UnknownOption("--bogus=1".into()),
            ),
            (
                &["--interfaces-config=x"],
                ConfigError::UnknownOption("--interfaces-config=x".into()),
            ),
            (&["-z"], ConfigError::UnknownOption("-z".into())),
            (&["-fz"], ConfigError::UnknownOption("-z".into())),
            (
                &["-t"],
                ConfigError::MissingValue {
                    option: "table".into(),
                },
            ),
            (
                &["--table"],
                ConfigError::MissingValue {
                    option: "table".into(),
                },
            ),
            (
                &["-Lf"],
                ConfigError::MissingValue {
                    option: "log-level".into(),
                },
            ),
            (
                &["--foreground=maybe"],
                ConfigError::UnexpectedValue {
                    option: "foreground".into(),
                    value: "maybe".into(),
                },
            ),
        ];
        for (args, want) in cases {
            assert_eq!(&tokenize(*args).unwrap_err(), want, "{args:?}");
        }
    }

    #[test]
    fn limits() {
        let many = vec!["-f"; MAX_ARGS + 1];
        assert_eq!(
            tokenize(&many).unwrap_err(),
            ConfigError::TooManyArguments(MAX_ARGS)
        );
        let long = format!("--pidfile={}", "x".repeat(MAX_ARG_BYTES + 1));
        assert!(matches!(
            tokenize([long]).unwrap_err(),
            ConfigError::InvalidValue { .. }
        ));
    }

    #[test]
    fn last_value_and_flag() {
        let a = tokenize(["-L", "3", "--log-level=5", "-f", "--foreground=false"]).unwrap();
        assert_eq!(a.last_value("log-level"), Some("5"));
        assert!(!a.flag("foreground"));
        assert!(!a.flag("log-stderr"));
        assert_eq!(a.last_value("table"), None);
    }
}
