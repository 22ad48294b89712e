//! Stream info with deleted details and per-subject counts, against a real server.

mod consumer_support;

use consumer_support::*;
use gnat_jetstream::StreamInfoOptions;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_details_and_subject_counts() {
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    for i in 0..12u64 {
        publish(&js, &format!("s.{}", i % 3), i.to_string()).await;
    }
    js.delete_message("S", 3).await.unwrap();
    js.delete_message("S", 7).await.unwrap();
    js.erase_message("S", 8).await.unwrap();

    // Without details: counts only.
    let plain = js
        .stream_info_with("S", &StreamInfoOptions::new())
        .await
        .unwrap();
    assert_eq!(plain.state.num_deleted, 3);
    assert!(plain.state.deleted.is_none());
    assert!(plain.state.subjects.is_none());

    let info = js
        .stream_info_with(
            "S",
            &StreamInfoOptions::new().deleted_details(true).subjects(">"),
        )
        .await
        .unwrap();
    let mut deleted = info.state.deleted.clone().unwrap();
    deleted.sort_unstable();
    assert_eq!(deleted, vec![3, 7, 8]);
    let subjects = info.state.subjects.unwrap();
    // s.0: 1,4,7,10 (7 deleted) → 3; s.1: 2,5,8,11 (8 erased) → 3; s.2: 3,6,9,12 (3 deleted) → 3.
    assert_eq!(subjects.len(), 3);
    assert_eq!(subjects["s.0"], 3);
    assert_eq!(subjects["s.1"], 3);
    assert_eq!(subjects["s.2"], 3);
    assert_eq!(info.state.num_subjects, 3);

    // A filter narrows the subjects; deleted details stay off unless asked.
    let info = js
        .stream_info_with("S", &StreamInfoOptions::new().subjects("s.1"))
        .await
        .unwrap();
    assert!(info.state.deleted.is_none());
    let subjects = info.state.subjects.unwrap();
    assert_eq!(subjects.len(), 1);
    assert_eq!(subjects["s.1"], 3);

    assert!(
        js.stream_info_with("S", &StreamInfoOptions::new().subjects("bad subject"))
            .await
            .is_err()
    );
    assert!(
        js.stream_info_with("missing", &StreamInfoOptions::new())
            .await
            .unwrap_err()
            .is_stream_not_found()
    );
}
