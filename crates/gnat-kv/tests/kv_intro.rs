//! The example `kv_intro` prints exactly what the NATS by Example walkthrough records (with
//! the key listing it added and our header format) against a fresh server.

#[allow(dead_code)]
#[path = "../examples/kv_intro.rs"]
mod intro;

const EXPECTED: &str = "\
sue.color @ 1 -> blue
sue.color @ 2 -> green
sue.color @ 3 -> red
All keys: [\"sue.color\"]
KV stream name: KV_profiles
$KV.profiles.sue.color @ 3 -> red
$KV.profiles.sue.color @ 4 -> yellow
$KV.profiles.sue.color @ 5 -> 
headers: KV-Operation: DEL
sue.color @ 6 -> purple (op: Put)
sue.food @ 7 -> pizza (op: Put)
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prints_the_walkthrough() {
    let server = gnat_test_support::NatsServer::start_jetstream();
    let mut out = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        intro::run(&server.url(), &mut out),
    )
    .await
    .expect("the walkthrough did not finish in time")
    .expect("the walkthrough failed");
    assert_eq!(String::from_utf8(out).unwrap(), EXPECTED);
}
