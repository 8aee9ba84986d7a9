use bytes::Bytes;
use imagegraph::storage::StorageKey;
use imagegraph::use_cases::gc::{GcReport, sweep};
use imagegraph_imaging::MediaFormat;
use std::time::Duration;

use crate::harness::TestApp;

#[tokio::test(flavor = "multi_thread")]
async fn gc_deletes_only_objects_no_image_points_at() {
    let t = TestApp::start().await;
    let live: imagegraph_db::ImageId = crate::harness::row_id(&t.upload_png(&t.alice.token).await);
    let orphan = StorageKey::Original {
        image_id: imagegraph_db::ImageId::new(),
        content_id: imagegraph_db::ContentId::new(),
        format: MediaFormat::Png,
    };
    let stale = StorageKey::Thumbnail {
        image_id: live,
        content_id: imagegraph_db::ContentId::new(),
        format: MediaFormat::Jpeg,
    };
    for key in [&orphan, &stale] {
        t.app
            .storage
            .put(key, Bytes::from_static(b"leftover"))
            .await
            .unwrap();
    }
    assert_eq!(t.stored_objects().len(), 4);

    // Within the grace period nothing is touched: it may be an upload in flight.
    assert_eq!(
        sweep(&t.app.db, &t.app.storage, Duration::from_secs(3600))
            .await
            .unwrap(),
        GcReport {
            scanned: 4,
            deleted: 0
        }
    );
    assert_eq!(
        sweep(&t.app.db, &t.app.storage, Duration::ZERO)
            .await
            .unwrap(),
        GcReport {
            scanned: 4,
            deleted: 2
        }
    );
    assert_eq!(t.stored_objects().len(), 2);
    let body = t
        .gql(
            &t.alice.token,
            "query($id: ID!) { image(id: $id) { url thumbnailUrl } }",
            serde_json::json!({ "id": imagegraph_db::GlobalId::global_id(live) }),
        )
        .await;
    for field in ["url", "thumbnailUrl"] {
        let url = body["data"]["image"][field].as_str().unwrap();
        assert_eq!(
            t.client.get(url).send().await.unwrap().status(),
            200,
            "{field} survives gc"
        );
    }
}
