//! `checks::etcd` against a local three-member etcd cluster, over what it does with
//! `etcd-client` directly: the member list, then every member's status at once, each on a
//! client of its own.

use healthcheck::checks;

use crate::servers::etcd::Cluster;
use crate::{Row, compare};

pub(crate) fn bench(runtime: &tokio::runtime::Runtime) -> Row {
    let cluster = Cluster::start();
    let endpoints = cluster.endpoints();
    let (list_client, member_clients) = runtime.block_on(async {
        let list_client = etcd_client::Client::connect(&endpoints[..1], None)
            .await
            .expect("a client");
        let mut member_clients = Vec::new();
        for endpoint in &endpoints {
            member_clients.push(
                etcd_client::Client::connect([endpoint], None)
                    .await
                    .expect("a client"),
            );
        }
        (list_client, member_clients)
    });
    let row = compare(
        runtime,
        "etcd",
        move || {
            let list_client = list_client.clone();
            let member_clients = member_clients.clone();
            async move {
                let Ok(list) = list_client.cluster_client().member_list().await else {
                    return false;
                };
                let (mut a, mut b, mut c) = (
                    member_clients[0].maintenance_client(),
                    member_clients[1].maintenance_client(),
                    member_clients[2].maintenance_client(),
                );
                let statuses = tokio::join!(a.status(), b.status(), c.status());
                list.members().len() == 3
                    && [statuses.0, statuses.1, statuses.2]
                        .iter()
                        .all(|status| status.as_ref().is_ok_and(|s| s.leader() != 0))
            }
        },
        checks::etcd("etcd", &endpoints),
    );
    drop(cluster);
    row
}
