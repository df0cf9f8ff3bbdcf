//! `checks::etcd`: a real three-member etcd cluster (all up, one down, two down, back), a single
//! member that goes away or hangs, a cluster with authentication and a wrong password.

use std::time::{Duration, Instant};

use healthcheck::{Report, Status, checks};

use crate::support::servers::etcd::{self, Cluster};
use crate::{build_error, health_of, run_one};

fn component(report: &Report) -> &healthcheck::ComponentReport {
    &report.components["etcd"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_is_healthy_degraded_with_one_member_down_and_unhealthy_without_quorum() {
    let mut cluster = tokio::task::spawn_blocking(Cluster::start).await.unwrap();
    let timeout = Duration::from_millis(1500);
    let health = health_of([checks::etcd("etcd", cluster.endpoints())
        .timeout(timeout)
        .into()]);

    let report = health.run().await;
    let all_up = component(&report);
    assert_eq!(all_up.status, Status::Healthy, "{}", report.to_json());
    assert_eq!(all_up.extra["members"], 3);
    assert_eq!(all_up.extra["healthy_members"], 3);
    let leader = all_up.extra["leader"].as_str().unwrap().to_owned();
    assert!(cluster.names.contains(&leader), "{leader}");
    assert_eq!(
        all_up.status_message.as_deref(),
        Some(format!("3 members, leader {leader}").as_str())
    );

    // Followers go first, so that the leader stays known while a quorum answers.
    let followers: Vec<usize> = (0..3).filter(|&i| cluster.names[i] != leader).collect();
    let first = followers[0];
    let mut cluster = tokio::task::spawn_blocking(move || {
        cluster.kill(first);
        cluster
    })
    .await
    .unwrap();
    let report = health.run().await;
    let one_down = component(&report);
    assert_eq!(one_down.status, Status::Degraded, "{}", report.to_json());
    assert_eq!(
        one_down.status_message.as_deref(),
        Some(format!("1 of 3 members down: {}", cluster.names[first]).as_str())
    );
    assert_eq!(one_down.extra["healthy_members"], 2);
    assert_eq!(one_down.extra["leader"], leader.as_str());
    assert_eq!(
        one_down.extra["down"],
        serde_json::json!([cluster.names[first]])
    );

    let second = followers[1];
    let cluster_ = tokio::task::spawn_blocking(move || {
        cluster.kill(second);
        cluster
    })
    .await
    .unwrap();
    cluster = cluster_;
    let started = Instant::now();
    let report = health.run().await;
    let took = started.elapsed();
    let two_down = component(&report);
    assert_eq!(two_down.status, Status::Unhealthy, "{}", report.to_json());
    assert!(took < timeout + Duration::from_millis(500), "took {took:?}");
    let message = two_down.status_message.clone().unwrap();
    assert!(message.starts_with("2 of 3 members down: "), "{message}");
    assert!(message.contains("no quorum"), "{message}");
    assert_eq!(two_down.extra["healthy_members"], 1);

    let cluster = tokio::task::spawn_blocking(move || {
        cluster.members[first].restart();
        cluster.members[second].restart();
        cluster.wait_until_healthy();
        cluster
    })
    .await
    .unwrap();
    let report = health.run().await;
    assert_eq!(
        component(&report).status,
        Status::Healthy,
        "{}",
        report.to_json()
    );
    assert_eq!(component(&report).extra["healthy_members"], 3);
    drop(cluster);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_member_that_goes_down_is_unhealthy_and_healthy_again_once_back() {
    let mut server = tokio::task::spawn_blocking(etcd::start).await.unwrap();
    let health = health_of([checks::etcd("etcd", [etcd::endpoint(&server)]).into()]);
    let report = health.run().await;
    assert_eq!(
        component(&report).status,
        Status::Healthy,
        "{}",
        report.to_json()
    );
    assert_eq!(component(&report).extra["leader"], "default");
    assert_eq!(component(&report).extra["members"], 1);

    let mut server = tokio::task::spawn_blocking(move || {
        server.kill();
        server
    })
    .await
    .unwrap();
    let started = Instant::now();
    let report = health.run().await;
    assert!(started.elapsed() < Duration::from_millis(2500));
    let down = component(&report);
    assert_eq!(down.status, Status::Unhealthy, "{}", report.to_json());
    let message = down.status_message.clone().unwrap();
    assert!(message.contains("cannot list the members"), "{message}");
    assert!(message.contains(&server.addr.to_string()), "{message}");

    let server = tokio::task::spawn_blocking(move || {
        server.restart();
        server
    })
    .await
    .unwrap();
    // A single member elects itself within its election timeout of 250 ms.
    let mut status = Status::Unhealthy;
    for _ in 0..20 {
        status = component(&health.run().await).status;
        if status == Status::Healthy {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, Status::Healthy);
    drop(server);
}

#[tokio::test]
async fn a_member_that_hangs_times_out_on_time() {
    let server = etcd::start();
    let stalled = crate::support::proxy::delaying(server.addr, Duration::from_secs(3600)).await;
    let started = Instant::now();
    let component = run_one(
        checks::etcd("etcd", [format!("http://{stalled}")]).timeout(Duration::from_millis(400)),
    )
    .await;
    let took = started.elapsed();
    assert_eq!(component.status, Status::Unhealthy, "{component:?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let message = component.status_message.unwrap();
    assert!(message.contains("timed out"), "{message}");
}

#[tokio::test]
async fn a_wrong_password_is_unhealthy_and_never_shows() {
    let server = etcd::start();
    let endpoint = etcd::endpoint(&server);
    let right = "et-Right-s3cret";
    let wrong = "et-Wrong-pass-55";
    let mut admin = etcd_client::Client::connect([&endpoint], None)
        .await
        .unwrap();
    let _ = admin.role_add("root").await;
    admin.user_add("root", right, None).await.unwrap();
    admin.user_grant_role("root", "root").await.unwrap();
    admin.auth_enable().await.unwrap();

    let check = checks::etcd("etcd", [&endpoint]).user("root", wrong);
    assert!(!format!("{check:?}").contains(wrong));
    let component = run_one(check).await;
    assert_eq!(component.status, Status::Unhealthy, "{component:?}");
    let message = component.status_message.clone().unwrap();
    assert!(message.contains("authentication failed"), "{message}");
    let json = serde_json::to_string(&component).unwrap();
    assert!(!json.contains(wrong), "{json}");

    let component = run_one(checks::etcd("etcd", [&endpoint]).user("root", right)).await;
    assert_eq!(component.status, Status::Healthy, "{component:?}");
}

#[test]
fn malformed_endpoints_fail_the_build() {
    for (endpoints, says) in [
        (vec!["etcd-1:2379", "etcd-2:port"], "1..=65535"),
        (vec!["https://etcd:2379"], "https"),
        (vec!["http://root:hunter2@etcd:2379"], "credentials"),
        (vec![], "no etcd endpoint"),
        (vec!["etcd-1:2379,,etcd-2"], "empty"),
    ] {
        let message = build_error(checks::etcd("the etcd", endpoints));
        assert!(message.contains("the etcd"), "{message}");
        assert!(message.contains(says), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
}

#[test]
fn the_check_survives_the_runtime_that_first_ran_it() {
    let server = etcd::start();
    let health = health_of([checks::etcd("etcd", [etcd::endpoint(&server)]).into()]);
    for _ in 0..2 {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let report = runtime.block_on(health.run());
        assert_eq!(
            component(&report).status,
            Status::Healthy,
            "{}",
            report.to_json()
        );
        drop(runtime);
    }
}
