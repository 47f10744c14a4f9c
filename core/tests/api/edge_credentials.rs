//! Edge credentials per provider: a provider's credential attaches only as that provider, is
//! handed only that provider's resources, and converses only for the instances it attached;
//! the shared credential still acts as any provider.

use std::time::Duration;

use assistchat_fakes::FakeOpenAi;
use assistchat_proto::v1::{
    ChannelUser, ConverseRequest, CreateResourceRequest, ListProvidersRequest, ResetConversationRequest, Resource,
    ResourceState, StartBotRequest, edge_service_client::EdgeServiceClient,
};
use tonic::{Code, Status};

use crate::{
    both_backends,
    helpers::{Backend, TestApp, authed, spawn_app_with_edges_and},
    resources::{create, new_resource, state_becomes},
    test_edge::{EDGE_TOKEN, TestEdge, hello},
};

both_backends!(a_provider_credential_acts_only_as_its_own_provider);

/// The credential core has for the test provider `testchan`.
const TESTCHAN_TOKEN: &str = "testchan-edge-credential-0123456789abcdef";
/// The credential core has for another provider, `otherchan`: a leak of it must not reach
/// `testchan`'s resources.
const OTHER_TOKEN: &str = "otherchan-edge-credential-0123456789abcdef";

fn converse(instance_id: &str, resource_id: &str, external_id: &str) -> ConverseRequest {
    ConverseRequest {
        instance_id: instance_id.into(),
        resource_id: resource_id.into(),
        chat_id: "chat-1".into(),
        sender: Some(ChannelUser { id: "42".into(), display_name: "Zoe".into(), username: "zoe".into() }),
        external_message_id: external_id.into(),
        text: "hello".into(),
    }
}

async fn converse_as(app: &TestApp, token: &str, request: ConverseRequest) -> Result<String, Status> {
    let mut edge = EdgeServiceClient::new(app.channel.clone());
    Ok(edge.converse(authed(request, token)).await?.into_inner().reply_text)
}

fn assert_denied(what: &str, result: Result<impl std::fmt::Debug, Status>) {
    let status = result.expect_err(what);
    assert_eq!(status.code(), Code::PermissionDenied, "{what}: {status:?}");
    assert!(status.message().contains("credential"), "{what}: {}", status.message());
}

async fn a_provider_credential_acts_only_as_its_own_provider(backend: Backend) {
    let fake = FakeOpenAi::start().await;
    let base_url = fake.base_url();
    let Some(app) = spawn_app_with_edges_and(backend, |config| {
        config.openai_api_key = Some("sk-platform-key-0001".into());
        config.openai_base_url = base_url;
        config.ai_deadline = Duration::from_secs(3);
        config.provider_edge_tokens.insert("testchan".into(), TESTCHAN_TOKEN.into());
        config.provider_edge_tokens.insert("otherchan".into(), OTHER_TOKEN.into());
    })
    .await
    else {
        return;
    };
    let (_, session) = app.register("ann").await;
    let providers = || async {
        let request = authed(ListProvidersRequest {}, &session.token);
        let listed = app.resources().list_providers(request).await.unwrap().into_inner().providers;
        listed.into_iter().map(|provider| provider.name).collect::<Vec<_>>()
    };

    // A credential of one provider cannot attach as another, so it cannot describe (or
    // rewrite) that provider's schema.
    let wrong = TestEdge::attach_with(app.channel.clone(), hello("testchan", "one"), OTHER_TOKEN).await;
    assert_denied("otherchan's credential attaching as testchan", wrong.map(drop));
    let wrong = TestEdge::attach_with(app.channel.clone(), hello("newchan", "x"), TESTCHAN_TOKEN).await;
    assert_denied("testchan's credential attaching as a new provider", wrong.map(drop));
    assert!(providers().await.is_empty(), "no refused hello described a provider");

    let testchan = TestEdge::attach_with(app.channel.clone(), hello("testchan", "one"), TESTCHAN_TOKEN).await.unwrap();
    // The other provider's instance even takes the same instance id.
    let other = TestEdge::attach_with(app.channel.clone(), hello("otherchan", "one"), OTHER_TOKEN).await.unwrap();
    assert_eq!(providers().await, ["otherchan", "testchan"]);

    app.bot().start_bot(authed(StartBotRequest {}, &session.token)).await.unwrap();
    let shop = create(&app, &session.token, new_resource("Shop", "{}", "tok-aaaaaaaaaaaaaaaaaaaa-1111")).await;
    state_becomes(&app, &session.token, &shop.id, ResourceState::Ready).await;
    let other_request = CreateResourceRequest {
        resource: Some(Resource {
            provider: "otherchan".into(),
            ..new_resource("Other", "{}", "tok-other-bbbbbbbbbbbb").resource.unwrap()
        }),
    };
    let elsewhere = create(&app, &session.token, other_request).await;
    state_becomes(&app, &session.token, &elsewhere.id, ResourceState::Ready).await;
    // Each resource, with its secrets, went to its own provider's edge only.
    assert_eq!(testchan.starts(&shop.id).len(), 1);
    assert!(other.starts(&shop.id).is_empty(), "the other provider never received testchan's token");
    assert_eq!(other.starts(&elsewhere.id).len(), 1);
    assert!(testchan.starts(&elsewhere.id).is_empty());

    // Only the credential that attached the instance converses for its resources.
    let calls = fake.chat_calls();
    assert_denied(
        "otherchan's credential naming testchan's instance",
        converse_as(&app, OTHER_TOKEN, converse("one", &shop.id, "u1")).await,
    );
    assert_denied(
        "the shared credential naming an instance another credential attached",
        converse_as(&app, EDGE_TOKEN, converse("one", &shop.id, "u2")).await,
    );
    assert_denied(
        "testchan's credential conversing for otherchan's resource",
        converse_as(&app, TESTCHAN_TOKEN, converse("one", &elsewhere.id, "u3")).await,
    );
    let reset =
        ResetConversationRequest { instance_id: "one".into(), resource_id: shop.id.clone(), chat_id: "c".into() };
    let reset = EdgeServiceClient::new(app.channel.clone()).reset_conversation(authed(reset, OTHER_TOKEN)).await;
    assert_denied("otherchan's credential resetting testchan's chat", reset);
    assert_eq!(fake.chat_calls(), calls, "refused calls never reach the model");

    let reply = converse_as(&app, TESTCHAN_TOKEN, converse("one", &shop.id, "u4")).await.unwrap();
    assert_eq!(reply, "You said: hello");
    let reply = converse_as(&app, OTHER_TOKEN, converse("one", &elsewhere.id, "u5")).await.unwrap();
    assert_eq!(reply, "You said: hello");

    // The shared credential keeps working for every provider, for a single operator.
    let shared = TestEdge::attach_with(app.channel.clone(), hello("thirdchan", "solo"), EDGE_TOKEN).await;
    assert!(shared.is_ok(), "{:?}", shared.err());
    assert_eq!(providers().await, ["otherchan", "testchan", "thirdchan"]);
}
