//! Attacks: sessions.

use crate::harness::*;

#[tokio::test]
async fn harness_starts_a_server_and_reads_a_pan() {
    let s = Server::start(&[]).await;
    let token = s.issue_card().await;
    assert_eq!(s.pan_of(&token).await.len(), 16);
}
