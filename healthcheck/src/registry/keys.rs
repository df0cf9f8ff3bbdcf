//! Where the registry keeps things in etcd, under its prefix (`/services` by default), each name
//! escaped so that it cannot reach into another key:
//!
//! - `by-uuid/<id>`: the instance as JSON ([`InstanceRecord::to_json`]);
//! - `by-status/<UP|DOWN>/<id>`, `by-type-host/<type>/<host>/<id>`, `by-region/<region>/<id>`:
//!   the id, for look-ups by those.
//!
//! All of an instance's keys share one lease.

use crate::fleet::store::key_segment;

use super::record::{InstanceRecord, InstanceStatus};

/// The keys of one registry.
#[derive(Clone, Debug)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    pub(crate) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.trim_end_matches('/').to_owned(),
        }
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Every instance record is under this.
    pub(crate) fn records(&self) -> String {
        format!("{}/by-uuid/", self.prefix)
    }

    pub(crate) fn record(&self, id: &str) -> String {
        format!("{}{}", self.records(), key_segment(id))
    }

    pub(crate) fn by_status(&self, status: InstanceStatus) -> String {
        format!("{}/by-status/{}/", self.prefix, status.as_str())
    }

    pub(crate) fn by_type(&self, kind: &str) -> String {
        format!("{}/by-type-host/{}/", self.prefix, key_segment(kind))
    }

    pub(crate) fn by_type_host(&self, kind: &str, host: &str) -> String {
        format!("{}{}/", self.by_type(kind), key_segment(host))
    }

    pub(crate) fn by_region(&self, region: &str) -> String {
        format!("{}/by-region/{}/", self.prefix, key_segment(region))
    }

    /// The index keys of `record` (not its record key), and the status key it must not have.
    pub(crate) fn index(&self, record: &InstanceRecord) -> (Vec<String>, String) {
        let id = key_segment(&record.id);
        let mut keys = vec![
            format!("{}{id}", self.by_status(record.status)),
            format!("{}{id}", self.by_type_host(&record.kind, &record.host)),
        ];
        if let Some(region) = &record.region {
            keys.push(format!("{}{id}", self.by_region(region)));
        }
        let other = match record.status {
            InstanceStatus::Up => InstanceStatus::Down,
            InstanceStatus::Down => InstanceStatus::Up,
        };
        (keys, format!("{}{id}", self.by_status(other)))
    }

    /// The id at the end of an index key.
    pub(crate) fn id_of(key: &str) -> Option<String> {
        let last = key.rsplit('/').next()?;
        percent_encoding::percent_decode_str(last)
            .decode_utf8()
            .ok()
            .map(std::borrow::Cow::into_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_back_from_index_keys_even_escaped() {
        let keys = Keys::new("/services/");
        assert_eq!(keys.record("a/b"), "/services/by-uuid/a%2Fb");
        assert_eq!(
            Keys::id_of("/services/by-status/UP/a%2Fb%25c").as_deref(),
            Some("a/b%c")
        );
        assert_eq!(
            keys.by_type_host("api", "web-1"),
            "/services/by-type-host/api/web-1/"
        );
    }
}
