//! The fleet: what a process says about its work beyond the checks it runs.
//!
//! Today: the process's [`Identity`] (service, host, instance, labels), and
//! [heartbeats](Heartbeat), dead-man switches for work that is not a request (a cron job, a queue
//! consumer, a batch), beaten from the code or over HTTP. Shared stores that let many processes
//! and hosts publish and read each other's results build on the same report.

mod config;
mod heartbeat;
mod identity;
mod publish;
pub mod store;
pub(crate) mod view;

pub(crate) use config::ResolvedFleet;
pub use config::{DEFAULT_PUBLISH_INTERVAL, FleetConfig, FleetReduce};
pub use heartbeat::{Beat, Heartbeat};
pub(crate) use heartbeat::{BeatCell, SharedBeats};
pub(crate) use identity::IdentitySettings;
pub use identity::{HOST_ENV, INSTANCE_ENV, Identity};
pub use publish::PublishStatus;
pub(crate) use publish::{Finding, Publisher};
#[cfg(feature = "etcd")]
#[cfg_attr(docsrs, doc(cfg(feature = "etcd")))]
pub use store::EtcdStore;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use store::PostgresStore;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use store::RedisStore;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use store::SqliteStore;
pub use store::{
    BeatRecord, FleetRecord, FleetStore, MemoryFleetStore, STORE_ENV, StoreError, StoreFuture,
    StoreUrl,
};
pub use view::{Fleet, FleetFilter, FleetView, InstanceResult};
