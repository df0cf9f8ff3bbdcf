//! Query strings: `application/x-www-form-urlencoded` pairs, percent-decoded, UTF-8 checked.

use percent_encoding::percent_decode;

/// The longest query the endpoints read; a longer one is refused (414).
pub(crate) const MAX_QUERY: usize = 8 * 1024;

/// Why a query could not be read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum QueryError {
    TooLong,
    NotUtf8(String),
}

/// The decoded `key=value` pairs, in order; a key without `=` has an empty value.
pub(crate) fn parse(query: Option<&str>) -> Result<Vec<(String, String)>, QueryError> {
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        return Ok(Vec::new());
    };
    if query.len() > MAX_QUERY {
        return Err(QueryError::TooLong);
    }
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(key)?, decode(value)?))
        })
        .collect()
}

/// Percent-decodes one component, with `+` as a space.
pub(crate) fn decode(text: &str) -> Result<String, QueryError> {
    let spaced = text.replace('+', " ");
    percent_decode(spaced.as_bytes())
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| QueryError::NotUtf8(text.to_owned()))
}

/// Percent-decodes a path segment (`+` stays `+`).
pub(crate) fn decode_segment(text: &str) -> Result<String, QueryError> {
    percent_decode(text.as_bytes())
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| QueryError::NotUtf8(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn queries() {
        let long = "a".repeat(MAX_QUERY + 1);
        type Parsed = Result<Vec<(String, String)>, QueryError>;
        let cases: Vec<(Option<&str>, Parsed)> = vec![
            (None, Ok(vec![])),
            (Some(""), Ok(vec![])),
            (Some("verbose"), Ok(pairs(&[("verbose", "")]))),
            (
                Some("group=front&group=back"),
                Ok(pairs(&[("group", "front"), ("group", "back")])),
            ),
            (
                Some("format=health+json"),
                Ok(pairs(&[("format", "health json")])),
            ),
            (
                Some("format=health%2Bjson&&x="),
                Ok(pairs(&[("format", "health+json"), ("x", "")])),
            ),
            (Some("exclude=caf%C3%A9"), Ok(pairs(&[("exclude", "café")]))),
            (
                Some("group=%FF"),
                Err(QueryError::NotUtf8("%FF".to_owned())),
            ),
            (Some(long.as_str()), Err(QueryError::TooLong)),
        ];
        for (query, expected) in cases {
            assert_eq!(parse(query), expected, "{query:?}");
        }
    }

    #[test]
    fn segments_keep_plus() {
        assert_eq!(decode_segment("a+b%20c"), Ok("a+b c".to_owned()));
        assert!(decode_segment("%C3").is_err());
    }
}
