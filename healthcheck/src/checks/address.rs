//! `host:port` addresses, as the TCP and memcached checkers take them.

/// Splits `host:port` (or `[v6]:port`), or says what is wrong with it.
pub(crate) fn parse_host_port(addr: &str) -> Result<(&str, u16), String> {
    let (host, port) = if let Some(rest) = addr.strip_prefix('[') {
        let (host, rest) = rest
            .split_once(']')
            .ok_or("an IPv6 address needs a closing `]`")?;
        let port = rest
            .strip_prefix(':')
            .ok_or("expected `:port` after the IPv6 address")?;
        (host, port)
    } else {
        addr.rsplit_once(':')
            .ok_or("expected `host:port`, the port is missing")?
    };
    if host.is_empty() {
        return Err("the host is empty".to_owned());
    }
    if host.contains(':') && !addr.starts_with('[') {
        return Err("write an IPv6 address in brackets: `[::1]:port`".to_owned());
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("the port {port:?} is not a number in 1..=65535")),
        Ok(port) => Ok((host, port)),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_host_port;

    #[test]
    fn addresses_parse_or_say_what_is_wrong() {
        assert_eq!(parse_host_port("db:5432"), Ok(("db", 5432)));
        assert_eq!(parse_host_port("127.0.0.1:1"), Ok(("127.0.0.1", 1)));
        assert_eq!(parse_host_port("[::1]:6379"), Ok(("::1", 6379)));
        for (bad, says) in [
            ("db", "port is missing"),
            (":80", "host is empty"),
            ("db:0", "1..=65535"),
            ("db:http", "1..=65535"),
            ("db:70000", "1..=65535"),
            ("::1:80", "brackets"),
            ("[::1:80", "closing"),
            ("[::1]80", "after the IPv6"),
        ] {
            let err = parse_host_port(bad).expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
