//! `checks::tcp` against a loopback listener, over `tokio::net::TcpStream::connect`.

use healthcheck::checks;

use crate::{Row, compare};

pub(crate) fn bench(runtime: &tokio::runtime::Runtime) -> Row {
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("a listener");
    let addr = listener.local_addr().expect("its address");
    let target = addr.to_string();
    runtime.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            drop(stream);
        }
    });
    compare(
        runtime,
        "tcp",
        {
            let target = target.clone();
            move || {
                let target = target.clone();
                async move {
                    tokio::net::TcpStream::connect(target.as_str())
                        .await
                        .is_ok()
                }
            }
        },
        checks::tcp("tcp", &target),
    )
}
