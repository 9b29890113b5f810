//! A coordinator acting on their own project's pages cannot reach a member of another
//! project by naming that member's project member id.

use super::world::{Caller, World};
use crate::messaging::recipient_count;

#[tokio::test]
async fn other_projects_member_is_out_of_reach() {
    let world = World::build().await;
    let app = world.app();
    let coordinator = world.client(Caller::OtherCoordinator).await;
    let own_pages = format!(
        "/direct-sharing/projects/oauth2/{}",
        world.other_project.slug
    );
    let pmid = world.pmid();

    let removal = coordinator
        .post(app.url(&format!("{own_pages}/remove-members/")))
        .header("sec-fetch-site", "same-origin")
        .form(&[("project_member_ids", pmid)])
        .send()
        .await
        .unwrap();
    let message = coordinator
        .post(app.url(&format!("{own_pages}/message/")))
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("project_member_ids", pmid),
            ("subject", "Hello"),
            ("message", "A message for someone else's member."),
            ("action", "send"),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(
        removal.status(),
        422,
        "the id is not a member of this project"
    );
    assert!(
        world.is_active_member(world.project().id).await,
        "the member is still in their project"
    );
    assert_eq!(
        message.status(),
        422,
        "the id is not a member of this project"
    );
    assert_eq!(recipient_count(app, world.other_project.id).await, 0);
    assert_eq!(recipient_count(app, world.project().id).await, 0);
}
