//! The attribute's arguments: `name`, `groups`, `timeout`, `critical`, `probes`,
//! `failure_threshold`, `success_threshold`, `crate`.

use std::time::Duration;

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{LitBool, LitInt, LitStr, Path, Token, bracketed};

mod kw {
    syn::custom_keyword!(name);
    syn::custom_keyword!(groups);
    syn::custom_keyword!(timeout);
    syn::custom_keyword!(critical);
    syn::custom_keyword!(probes);
    syn::custom_keyword!(failure_threshold);
    syn::custom_keyword!(success_threshold);
}

/// The probes, with the bits that `healthcheck::Probe::bit` gives them.
const PROBES: [(&str, u8); 3] = [("liveness", 1), ("readiness", 2), ("startup", 4)];

/// The parsed and validated arguments.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) name: Option<LitStr>,
    pub(crate) groups: Vec<LitStr>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) critical: Option<bool>,
    /// A mask of probe bits; `None` means the default, readiness only.
    pub(crate) probes: Option<u8>,
    /// Failing runs in a row before the check is reported unhealthy; `None` means 1.
    pub(crate) failure_threshold: Option<u32>,
    /// Passing runs in a row before an unhealthy check is reported healthy again; `None`
    /// means 1.
    pub(crate) success_threshold: Option<u32>,
    pub(crate) krate: Option<Path>,
}

impl Args {
    pub(crate) fn probe_mask(&self) -> u8 {
        self.probes.unwrap_or(PROBES[1].1)
    }
}

const KEYS: [&str; 8] = [
    "name",
    "groups",
    "timeout",
    "critical",
    "probes",
    "failure_threshold",
    "success_threshold",
    "crate",
];
const EXAMPLES: [&str; 8] = [
    "\"...\"",
    "[\"...\"]",
    "\"500ms\"",
    "false",
    "[\"liveness\", \"readiness\"]",
    "3",
    "2",
    "\"::healthcheck\"",
];

fn key_index(key: &str) -> usize {
    KEYS.iter().position(|k| *k == key).unwrap_or(0)
}

fn duplicate(span: Span, key: &str) -> syn::Error {
    syn::Error::new(
        span,
        format!("duplicate `{key}` argument: give each argument once"),
    )
}

fn string_list(input: ParseStream<'_>) -> syn::Result<Punctuated<LitStr, Token![,]>> {
    let content;
    bracketed!(content in input);
    Punctuated::parse_terminated(&content)
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args::default();
        let mut seen: Vec<&str> = Vec::new();
        while !input.is_empty() {
            let lookahead = input.lookahead1();
            let key_span = input.span();
            let key = if lookahead.peek(kw::name) {
                input.parse::<kw::name>()?;
                "name"
            } else if lookahead.peek(kw::groups) {
                input.parse::<kw::groups>()?;
                "groups"
            } else if lookahead.peek(kw::timeout) {
                input.parse::<kw::timeout>()?;
                "timeout"
            } else if lookahead.peek(kw::critical) {
                input.parse::<kw::critical>()?;
                "critical"
            } else if lookahead.peek(kw::probes) {
                input.parse::<kw::probes>()?;
                "probes"
            } else if lookahead.peek(kw::failure_threshold) {
                input.parse::<kw::failure_threshold>()?;
                "failure_threshold"
            } else if lookahead.peek(kw::success_threshold) {
                input.parse::<kw::success_threshold>()?;
                "success_threshold"
            } else if lookahead.peek(Token![crate]) {
                input.parse::<Token![crate]>()?;
                "crate"
            } else if input.peek(syn::Ident) {
                let unknown: syn::Ident = input.parse()?;
                return Err(syn::Error::new_spanned(
                    &unknown,
                    format!(
                        "unknown argument `{unknown}`; expected one of: `name`, `groups`, `timeout`, \
                         `critical`, `probes`, `failure_threshold`, `success_threshold`, `crate`"
                    ),
                ));
            } else {
                return Err(lookahead.error());
            };
            if seen.contains(&key) {
                return Err(duplicate(key_span, key));
            }
            seen.push(key);
            if !input.peek(Token![=]) {
                return Err(syn::Error::new(
                    key_span,
                    format!("expected `{key} = {}`", EXAMPLES[key_index(key)]),
                ));
            }
            input.parse::<Token![=]>()?;
            match key {
                "name" => {
                    let name: LitStr = input.parse()?;
                    if name.value().is_empty() {
                        return Err(syn::Error::new_spanned(
                            name,
                            "a health check's name cannot be empty",
                        ));
                    }
                    args.name = Some(name);
                }
                "groups" => {
                    let groups = string_list(input)?;
                    for (index, group) in groups.iter().enumerate() {
                        if group.value().is_empty() {
                            return Err(syn::Error::new_spanned(
                                group,
                                "a group name cannot be empty",
                            ));
                        }
                        if groups
                            .iter()
                            .take(index)
                            .any(|g| g.value() == group.value())
                        {
                            return Err(syn::Error::new_spanned(
                                group,
                                format!("group `{}` is listed twice", group.value()),
                            ));
                        }
                    }
                    args.groups = groups.into_iter().collect();
                }
                "timeout" => {
                    let text: LitStr = input.parse()?;
                    args.timeout = Some(parse_timeout(&text)?);
                }
                "critical" => {
                    let value = input
                        .parse::<LitBool>()
                        .map_err(|e| syn::Error::new(e.span(), "expected `true` or `false`"))?;
                    args.critical = Some(value.value);
                }
                "failure_threshold" => args.failure_threshold = Some(threshold(input, key)?),
                "success_threshold" => args.success_threshold = Some(threshold(input, key)?),
                "probes" => {
                    let mut mask = 0;
                    for probe in string_list(input)? {
                        let value = probe.value();
                        let Some((_, bit)) = PROBES.iter().find(|(name, _)| *name == value) else {
                            return Err(syn::Error::new_spanned(
                                probe,
                                format!(
                                    "unknown probe `{value}`: expected \"liveness\", \"readiness\" or \"startup\""
                                ),
                            ));
                        };
                        if mask & bit != 0 {
                            return Err(syn::Error::new_spanned(
                                probe,
                                format!("probe `{value}` is listed twice"),
                            ));
                        }
                        mask |= bit;
                    }
                    if mask == 0 {
                        return Err(syn::Error::new(
                            key_span,
                            "list at least one probe, or leave `probes` out for readiness only",
                        ));
                    }
                    args.probes = Some(mask);
                }
                _ => {
                    let path: LitStr = input.parse()?;
                    let parsed = path.parse().map_err(|_| {
                        syn::Error::new_spanned(&path, "`crate` takes a path to the healthcheck crate, such as \"::healthcheck\"")
                    })?;
                    args.krate = Some(parsed);
                }
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(args)
    }
}

/// A threshold: a whole number of runs, at least 1.
fn threshold(input: ParseStream<'_>, key: &str) -> syn::Result<u32> {
    let value: LitInt = input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("expected `{key} = <runs>`, a whole number such as 3"),
        )
    })?;
    match value.base10_parse::<u32>() {
        Ok(0) => Err(syn::Error::new_spanned(
            &value,
            format!("`{key}` counts runs in a row: at least 1 (1 reports every run as it is)"),
        )),
        Ok(runs) => Ok(runs),
        Err(_) => Err(syn::Error::new_spanned(
            &value,
            format!("`{key}` is a whole number of runs, at most {}", u32::MAX),
        )),
    }
}

fn parse_timeout(text: &LitStr) -> syn::Result<Duration> {
    let value = text.value();
    let timeout = humantime::parse_duration(value.trim()).map_err(|e| {
        syn::Error::new_spanned(
            text,
            format!(
                "invalid timeout \"{value}\": {e}; expected a duration such as \"500ms\" or \"2s\""
            ),
        )
    })?;
    if timeout.is_zero() {
        return Err(syn::Error::new_spanned(
            text,
            "the timeout must be longer than zero",
        ));
    }
    if u64::try_from(timeout.as_nanos()).is_err() {
        return Err(syn::Error::new_spanned(
            text,
            "the timeout is too long (at most about 584 years)",
        ));
    }
    Ok(timeout)
}
