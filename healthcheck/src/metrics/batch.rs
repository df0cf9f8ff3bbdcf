//! Packs newline-terminated DogStatsD lines into payloads of at most a given size.

/// Splits `lines` (each ending with `\n`) into consecutive payloads of at most `max` bytes,
/// without copying. A line longer than `max` travels alone.
pub(crate) fn pack(lines: &str, max: usize) -> Packer<'_> {
    Packer { rest: lines, max }
}

#[derive(Debug)]
pub(crate) struct Packer<'a> {
    rest: &'a str,
    max: usize,
}

impl<'a> Iterator for Packer<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        let mut end = 0;
        for line in self.rest.split_inclusive('\n') {
            if end > 0 && end + line.len() > self.max {
                break;
            }
            end += line.len();
        }
        let (payload, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_lines_up_to_the_limit() {
        let cases: &[(&str, usize, &[&str])] = &[
            ("", 10, &[]),
            ("a:1|g\n", 10, &["a:1|g\n"]),
            ("a:1|g\nb:2|g\n", 12, &["a:1|g\nb:2|g\n"]),
            ("a:1|g\nb:2|g\n", 11, &["a:1|g\n", "b:2|g\n"]),
            ("a:1|g\nb:2|g\nc:3|g\n", 12, &["a:1|g\nb:2|g\n", "c:3|g\n"]),
            ("long:12345|g\nb:2|g\n", 6, &["long:12345|g\n", "b:2|g\n"]),
        ];
        for (lines, max, expected) in cases {
            let payloads: Vec<&str> = pack(lines, *max).collect();
            assert_eq!(&payloads, expected, "{lines:?} in {max}");
        }
    }

    #[test]
    fn every_payload_is_full_but_for_the_last() {
        let line = "healthcheck.check.healthy:1|g|#check:some_check\n";
        let lines = line.repeat(1000);
        let payloads: Vec<&str> = pack(&lines, 1432).collect();
        let per_payload = 1432 / line.len();
        assert_eq!(payloads.len(), 1000_usize.div_ceil(per_payload));
        for payload in &payloads[..payloads.len() - 1] {
            assert_eq!(payload.len(), per_payload * line.len());
        }
        assert_eq!(payloads.concat(), lines);
    }
}
