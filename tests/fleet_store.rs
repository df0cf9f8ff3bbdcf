//! The fleet store contract, against the in-memory store.

mod support;

use healthcheck::fleet::MemoryFleetStore;

#[tokio::test]
async fn the_memory_store_keeps_the_contract() {
    support::fleet_contract::run(&MemoryFleetStore::new()).await;
}
