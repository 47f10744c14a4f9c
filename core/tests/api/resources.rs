//! ResourceService, BotService and EdgeService together: users connect resources of an attached
//! provider, switch their bot, and see each resource's true state while edges come and go.

use std::time::Duration;

use assistchat_proto::v1::{
    ActivateResourceRequest, CreateResourceRequest, DeleteResourceRequest, GetBotStatusRequest, GetResourceRequest,
    ListProvidersRequest, ListResourcesRequest, PauseResourceRequest, Resource, ResourceDesiredState,
    ResourceErrorAction, ResourceState, ResourceStopReason, StartBotRequest, StopBotRequest, UpdateResourceRequest,
    WatchBotStatusRequest, watch_bot_status_response::Event,
};
use prost_types::FieldMask;
use tonic::{Code, Request};

use crate::{
    both_backends,
    helpers::{self, Backend, TestApp, authed, spawn_app, spawn_app_with_edges, until, violated_field},
    test_edge::{EDGE_TOKEN, TestEdge, hello},
};

both_backends!(
    edges_need_the_edge_credential_and_a_good_hello,
    attached_providers_are_listed_online_then_offline,
    bad_settings_name_the_setting_and_store_nothing,
    secrets_are_sealed_masked_and_never_returned,
    one_external_account_runs_in_one_place,
    an_active_resource_runs_when_the_bot_is_on,
    an_edge_error_is_shown_with_what_to_do,
    a_dead_edge_turns_its_resources_to_error_and_a_new_one_restarts_them,
    a_hung_edge_is_detached_after_three_silent_heartbeats,
    a_second_instance_takes_over_a_dead_ones_resources,
    the_bot_switch_and_pause_stop_resources,
    changed_settings_restart_a_running_resource,
    core_restarting_under_an_edge_loses_nothing,
    watchers_see_a_snapshot_then_each_change,
    another_users_resources_are_not_found,
);

pub const TOKEN_A: &str = "tok-aaaaaaaaaaaaaaaaaaaa-1111";
pub const TOKEN_B: &str = "tok-bbbbbbbbbbbbbbbbbbbb-2222";

async fn app(backend: Backend) -> Option<TestApp> {
    spawn_app_with_edges(backend).await
}

/// `message` with the token, when there is one.
fn as_caller<T>(token: Option<&str>, message: T) -> Request<T> {
    match token {
        Some(token) => authed(message, token),
        None => Request::new(message),
    }
}

pub fn new_resource(name: &str, meta_json: &str, token: &str) -> CreateResourceRequest {
    CreateResourceRequest {
        resource: Some(Resource {
            provider: "testchan".into(),
            name: name.into(),
            meta_json: meta_json.into(),
            secrets: [("api_token".to_owned(), token.to_owned())].into(),
            ..Default::default()
        }),
    }
}

pub async fn create(app: &TestApp, session: &str, request: CreateResourceRequest) -> Resource {
    app.resources().create_resource(authed(request, session)).await.expect("created").into_inner().resource.unwrap()
}

async fn get(app: &TestApp, session: &str, id: &str) -> Resource {
    let request = authed(GetResourceRequest { id: id.into() }, session);
    app.resources().get_resource(request).await.unwrap().into_inner().resource.unwrap()
}

/// Waits until the resource is in `state`, and returns it; fails with the last state seen.
pub async fn state_becomes(app: &TestApp, session: &str, id: &str, state: ResourceState) -> Resource {
    helpers::eventually(&format!("resource {id} becoming {state:?}"), || async {
        let resource = get(app, session, id).await;
        if resource.state() == state { Ok(resource) } else { Err(resource) }
    })
    .await
}

pub async fn start_bot(app: &TestApp, session: &str) {
    app.bot().start_bot(authed(StartBotRequest {}, session)).await.unwrap();
}

/// A user whose bot is on, with an edge attached and one resource of it ready.
pub struct Running {
    pub session: assistchat_proto::v1::Session,
    pub edge: TestEdge,
    pub resource: Resource,
}

pub async fn running(app: &TestApp) -> Running {
    let (_, session) = app.register("ann").await;
    let edge = TestEdge::attach(app.channel.clone(), "testchan", "one").await;
    start_bot(app, &session.token).await;
    let resource = create(app, &session.token, new_resource("Shop", "{}", TOKEN_A)).await;
    state_becomes(app, &session.token, &resource.id, ResourceState::Ready).await;
    Running { session, edge, resource }
}

async fn edges_need_the_edge_credential_and_a_good_hello(backend: Backend) {
    let Some(app) = app(backend).await else { return };
    let (_, session) = app.register("ann").await;
    for token in ["", "wrong-credential-wrong-credential-00", session.token.as_str()] {
        let status = TestEdge::attach_with(app.channel.clone(), hello("testchan", "a"), token).await.err().unwrap();
        assert_eq!(status.code(), Code::Unauthenticated, "{token}: {status:?}");
    }
    let bad = [
        (hello("Test Chan", "a"), "hello.provider"),
        (hello("web", "a"), "hello.provider"),
        (hello("testchan", ""), "hello.instance_id"),
        (
            assistchat_proto::v1::EdgeHello { settings_schema_json: "{".into(), ..hello("testchan", "a") },
            "hello.settings_schema_json",
        ),
        (
            assistchat_proto::v1::EdgeHello { secret_fields: vec!["system_prompt_x".into()], ..hello("testchan", "a") },
            "hello.secret_fields",
        ),
    ];
    for (hello, field) in bad {
        let status = TestEdge::attach_with(app.channel.clone(), hello, EDGE_TOKEN).await.err().unwrap();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert_eq!(violated_field(&status), field);
    }
    // The edge credential opens nothing else.
    let status = app.resources().list_providers(authed(ListProvidersRequest {}, EDGE_TOKEN)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);

    // A core without an edge credential takes no edge at all.
    let Some(closed) = spawn_app(backend).await else { return };
    let status = TestEdge::attach_with(closed.channel.clone(), hello("testchan", "a"), EDGE_TOKEN).await.err().unwrap();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("ASSISTCHAT_EDGE_TOKEN"), "{}", status.message());
}

async fn attached_providers_are_listed_online_then_offline(backend: Backend) {
    let Some(app) = app(backend).await else { return };
    let (_, session) = app.register("ann").await;
    let list = |app: &TestApp| {
        let request = authed(ListProvidersRequest {}, &session.token);
        let mut client = app.resources();
        async move { client.list_providers(request).await.unwrap().into_inner().providers }
    };
    assert!(list(&app).await.is_empty());
    let one = TestEdge::attach(app.channel.clone(), "testchan", "one").await;
    let two = TestEdge::attach(app.channel.clone(), "testchan", "two").await;
    let providers = list(&app).await;
    assert_eq!(providers.len(), 1);
    let provider = &providers[0];
    assert_eq!((provider.name.as_str(), provider.online, provider.instance_count), ("testchan", true, 2));
    assert_eq!(provider.display_name, "Test channel");
    assert_eq!(provider.secret_fields, ["api_token"]);
    assert!(provider.settings_schema_json.contains("allowed_users"));
    one.kill();
    two.kill();
    let providers = helpers::eventually("the provider going offline", || async {
        let providers = list(&app).await;
        if providers[0].online { Err(providers) } else { Ok(providers) }
    })
    .await;
    assert!(!providers[0].online, "the provider is offline once its instances are gone");
    assert_eq!(providers[0].instance_count, 0);
}

async fn bad_settings_name_the_setting_and_store_nothing(backend: Backend) {
    let Some(app) = app(backend).await else { return };
    let (_, session) = app.register("ann").await;
    let _edge = TestEdge::attach(app.channel.clone(), "testchan", "one").await;
    let with_secrets = |meta: &str, secrets: &[(&str, &str)]| CreateResourceRequest {
        resource: Some(Resource {
            provider: "testchan".into(),
            name: "Shop".into(),
            meta_json: meta.into(),
            secrets: secrets.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..Default::default()
        }),
    };
    let cases = [
        (
            CreateResourceRequest { resource: Some(Resource { provider: "nope".into(), ..Default::default() }) },
            "resource.provider",
        ),
        (new_resource("", "{}", TOKEN_A), "resource.name"),
        (new_resource("Shop", "[1, 2]", TOKEN_A), "resource.meta_json"),
        (new_resource("Shop", "{oops", TOKEN_A), "resource.meta_json"),
        (new_resource("Shop", r#"{"allowed_users": "ann"}"#, TOKEN_A), "resource.meta_json.allowed_users"),
        (new_resource("Shop", r#"{"colour": "red"}"#, TOKEN_A), "resource.meta_json.colour"),
        (new_resource("Shop", "{}", "short"), "resource.secrets.api_token"),
        (with_secrets("{}", &[]), "resource.secrets.api_token"),
        (with_secrets(&format!(r#"{{"api_token": "{TOKEN_A}"}}"#), &[]), "resource.meta_json.api_token"),
        (with_secrets("{}", &[("api_token", TOKEN_A), ("system_prompt", "x")]), "resource.secrets.system_prompt"),
    ];
    for (request, field) in cases {
        let status = app.resources().create_resource(authed(request, &session.token)).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert_eq!(violated_field(&status), field, "{}", status.message());
        assert!(!status.message().contains("short\""), "a secret's value is not repeated: {}", status.message());
    }
    let listed = app.resources().list_resources(authed(ListResourcesRequest::default(), &session.token)).await.unwrap();
    assert!(listed.into_inner().resources.is_empty(), "nothing was stored");

    // A bad update leaves the stored resource exactly as it was.
    let resource =
        create(&app, &session.token, new_resource("Shop", r#"{"system_prompt": "Be brief."}"#, TOKEN_A)).await;
    let update = UpdateResourceRequest {
        resource: Some(Resource {
            id: resource.id.clone(),
            name: "Renamed".into(),
            meta_json: r#"{"allowed_users": 5}"#.into(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask { paths: vec!["name".into(), "meta_json".into()] }),
        clear_secrets: vec![],
    };
    let status = app.resources().update_resource(authed(update, &session.token)).await.unwrap_err();
    assert_eq!(violated_field(&status), "resource.meta_json.allowed_users");
    let stored = get(&app, &session.token, &resource.id).await;
    assert_eq!((stored.name.as_str(), stored.meta_json.as_str()), ("Shop", r#"{"system_prompt":"Be brief."}"#));
    let clear_required = UpdateResourceRequest {
        resource: Some(Resource { id: resource.id.clone(), ..Default::default() }),
        update_mask: Some(FieldMask { paths: vec!["secrets".into()] }),
        clear_secrets: vec!["api_token".into()],
    };
    let status = app.resources().update_resource(authed(clear_required, &session.token)).await.unwrap_err();
    assert_eq!(violated_field(&status), "clear_secrets.api_token");
}

async fn secrets_are_sealed_masked_and_never_returned(backend: Backend) {
    let Some(app) = app(backend).await else { return };
    let (_, session) = app.register("ann").await;
    let edge = TestEdge::attach(app.channel.clone(), "testchan", "one").await;
    start_bot(&app, &session.token).await;
    let created = create(&app, &session.token, new_resource("Shop", "{}", TOKEN_A)).await;
    assert!(created.secrets.is_empty());
    assert_eq!(created.secret_masks.get("api_token").map(String::as_str), Some("...1111"));
    state_becomes(&app, &session.token, &created.id, ResourceState::Ready).await;
    assert_eq!(
        edge.starts(&created.id)[0].secrets.get("api_token").map(String::as_str),
        Some(TOKEN_A),
        "the edge gets it decrypted"
    );

    // An update that leaves the secret out keeps it.
    let update = UpdateResourceRequest {
        resource: Some(Resource { id: created.id.clone(), name: "Shop 2".into(), ..Default::default() }),
        update_mask: Some(FieldMask { paths: vec!["name".into(), "secrets".into()] }),
        clear_secrets: vec![],
    };
    let updated = app.resources().update_resource(authed(update, &session.token)).await.unwrap().into_inner();
    assert_eq!(updated.resource.unwrap().secret_masks["api_token"], "...1111");

    // Nowhere in any answer, nor in the database in the clear.
    let mut answers = format!("{created:?}{:?}", get(&app, &session.token, &created.id).await);
    let listed = app.resources().list_resources(authed(ListResourcesRequest::default(), &session.token)).await.unwrap();
    answers += &format!("{listed:?}");
    let status = app.bot().get_bot_status(authed(GetBotStatusRequest {}, &session.token)).await.unwrap();
    answers += &format!("{status:?}");
    assert!(!answers.contains(TOKEN_A), "a secret leaked into an answer");
    let dump: Vec<(String,)> =
        sqlx::query_as("SELECT COALESCE(secrets_sealed, '') || meta_json || secret_masks FROM resources")
            .fetch_all(&sqlx::AnyPool::connect(&app.config.database_url()).await.unwrap())
            .await
            .unwrap();
    assert!(dump.iter().all(|(row,)| !row.contains(TOKEN_A) && !row.contains("aaaaaaaaaaaa")), "stored in the clear");
}

async fn one_external_account_runs_in_one_place(backend: Backend) {
    let Some(app) = app(backend).await else { return };
    let (_, ann) = app.register("ann").await;
    let (_, bob) = app.register("bob").await;
    let _edge = TestEdge::attach(app.channel.clone(), "testchan", "one").await;
    let first = create(&app, &ann.token, new_resource("Shop", "{}", TOKEN_A)).await;
    for session in [&ann.token, &bob.token] {
        let status =
            app.resources().create_resource(authed(new_resource("Copy", "{}", TOKEN_A), session)).await.unwrap_err();
        assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
        assert!(status.message().contains("one place"), "{}", status.message());
    }
    // Changing another resource to the same account is refused too, and changes nothing.
    let second = create(&app, &bob.token, new_resource("Other", "{}", TOKEN_B)).await;
    let update = UpdateResourceRequest {
        resource: Some(Resource {
            id: second.id.clone(),
            secrets: [("api_token".into(), TOKEN_A.into())].into(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask { paths: vec!["secrets".into()] }),
        clear_secrets: vec![],
    };
    let status = app.resources().update_resource(authed(update, &bob.token)).await.unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
    assert_eq!(get(&app, &bob.token, &second.id).await.secret_masks["api_token"], "...2222");
    // Once the first is deleted, the account is free.
    app.resources().delete_resource(authed(DeleteResourceRequest { id: first.id }, &ann.token)).await.unwrap();
    create(&app, &bob.token, new_resource("Now mine", "{}", TOKEN_A)).await;
}

async fn an_active_resource_runs_when_the_bot_is_on(backend: Backend) {
    let Some(app) = app(backend).await else { return };
    let (user, session) = app.register("ann").await;
    let edge = TestEdge::attach(app.channel.clone(), "testchan", "one").await;
    let resource =
        create(&app, &session.token, new_resource("Shop Bot", r#"{"system_prompt": "Be brief."}"#, TOKEN_A)).await;
    assert_eq!(resource.desired_state(), ResourceDesiredState::Active);
    assert_eq!(resource.state(), ResourceState::Paused, "the bot is off");
    assert_eq!(resource.state_reason, "BOT_STOPPED");
    assert!(edge.starts(&resource.id).is_empty());

    start_bot(&app, &session.token).await;
    let ready = state_becomes(&app, &session.token, &resource.id, ResourceState::Ready).await;
    assert_eq!(ready.state_detail, "Connected.");
    assert_eq!(ready.status_info[0].value, "@shop_bot");
    let start = &edge.starts(&resource.id)[0];
    assert_eq!(start.owner_user_id, user.id);
    assert_eq!(start.owner_language_code, "en");
    assert_eq!(start.settings_json, r#"{"system_prompt":"Be brief."}"#);
    assert!(start.generation > 0);
    // Asking again changes nothing: one start only.
    app.resources()
        .activate_resource(authed(ActivateResourceRequest { id: resource.id.clone() }, &session.token))
        .await
        .unwrap();
    start_bot(&app, &session.token).await;
    assert_eq!(edge.starts(&resource.id).len(), 1);
}

async fn an_edge_error_is_shown_with_what_to_do(backend: Backend) {
    let Some(app) = app(backend).await else { return };
    let (_, session) = app.register("ann").await;
    let edge = TestEdge::attach(app.channel.clone(), "testchan", "one").await;
    start_bot(&app, &session.token).await;
    let meta = r#"{"fail_with": "The service rejected the token."}"#;
    let resource = create(&app, &session.token, new_resource("Shop", meta, TOKEN_A)).await;
    let failed = state_becomes(&app, &session.token, &resource.id, ResourceState::Error).await;
    assert_eq!(failed.state_detail, "The service rejected the token.");
    assert_eq!(failed.state_reason, "TOKEN_REJECTED");
    assert_eq!(failed.state_action(), ResourceErrorAction::FixSettings);
    // Fixing the settings starts it again, and it runs.
    let update = UpdateResourceRequest {
        resource: Some(Resource { id: resource.id.clone(), meta_json: "{}".into(), ..Default::default() }),
        update_mask: Some(FieldMask { paths: vec!["meta_json".into()] }),
        clear_secrets: vec![],
    };
    app.resources().update_resource(authed(update, &session.token)).await.unwrap();
    state_becomes(&app, &session.token, &resource.id, ResourceState::Ready).await;
    let starts = edge.starts(&resource.id);
    assert_eq!(starts.len(), 2);
    assert!(starts[1].generation > starts[0].generation);
}

async fn a_dead_edge_turns_its_resources_to_error_and_a_new_one_restarts_them(backend: Backend) {
    let Some(app) = app(backend).await else { return };
    let Running { session, edge, resource } = running(&app).await;

    edge.kill();
    let offline = state_becomes(&app, &session.token, &resource.id, ResourceState::Error).await;
    assert_eq!(offline.state_reason, "PROVIDER_OFFLINE");
    assert_eq!(offline.state_action(), ResourceErrorAction::WaitForProvider);
    assert!(offline.state_detail.contains("offline"), "{}", offline.state_detail);

    let back = TestEdge::attach(app.channel.clone(), "testchan", "one").await;
    state_becomes(&app, &session.token, &resource.id, ResourceState::Ready).await;
    assert_eq!(back.starts(&resource.id).len(), 1, "started again with no action from the user");
}

async fn a_hung_edge_is_detached_after_three_silent_heartbeats(backend: Backend) {
    let Some(app) = app(backend).await else { return };
    let Running { session, edge, resource } = running(&app).await;

    edge.hang();
    let offline = state_becomes(&app, &session.token, &resource.id, ResourceState::Error).await;
    assert_eq!(offline.state_reason, "PROVIDER_OFFLINE");
    until("core ends the silent stream", || edge.ended.lock().unwrap().is_some()).await;
    let ended = edge.ended.lock().unwrap().clone().unwrap();
    assert_eq!(ended.code(), Code::DeadlineExceeded, "{ended:?}");
}

async fn a_second_instance_takes_over_a_dead_ones_resources(backend: Backend) {
    let Some(app) = app(backend).await else { return };
    let (_, session) = app.register("ann").await;
    let one = TestEdge::attach(app.channel.clone(), "testchan", "one").await;
    let two = TestEdge::attach(app.channel.clone(), "testchan", "two").await;
    start_bot(&app, &session.token).await;
    let mut ids = Vec::new();
    for (i, token) in
        ["tok-0000000000000000-a", "tok-0000000000000000-b", "tok-0000000000000000-c", "tok-0000000000000000-d"]
            .iter()
            .enumerate()
    {
        let resource = create(&app, &session.token, new_resource(&format!("R{i}"), "{}", token)).await;
        ids.push(resource.id);
    }
    for id in &ids {
        state_becomes(&app, &session.token, id, ResourceState::Ready).await;
    }
    let on_one: Vec<&String> = ids.iter().filter(|id| !one.starts(id).is_empty()).collect();
    let on_two: Vec<&String> = ids.iter().filter(|id| !two.starts(id).is_empty()).collect();
    assert_eq!((on_one.len(), on_two.len()), (2, 2), "spread across the instances");

    one.kill();
    until("instance two runs everything", || ids.iter().all(|id| !two.starts(id).is_empty())).await;
    for id in &ids {
        state_becomes(&app, &session.token, id, ResourceState::Ready).await;
    }
}

async fn the_bot_switch_and_pause_stop_resources(backend: Backend) {
    let Some(app) = app(backend).await else { return };
    let (_, session) = app.register("ann").await;
    let edge = TestEdge::attach(app.channel.clone(), "testchan", "one").await;
    start_bot(&app, &session.token).await;
    let a = create(&app, &session.token, new_resource("A", "{}", TOKEN_A)).await;
    let b = create(&app, &session.token, new_resource("B", "{}", TOKEN_B)).await;
    state_becomes(&app, &session.token, &a.id, ResourceState::Ready).await;
    state_becomes(&app, &session.token, &b.id, ResourceState::Ready).await;

    let paused = app
        .resources()
        .pause_resource(authed(PauseResourceRequest { id: a.id.clone() }, &session.token))
        .await
        .unwrap();
    let paused = paused.into_inner().resource.unwrap();
    assert_eq!((paused.state(), paused.desired_state()), (ResourceState::Paused, ResourceDesiredState::Paused));
    assert_eq!(edge.stops(&a.id)[0].reason(), ResourceStopReason::Paused);

    let stopped = app.bot().stop_bot(authed(StopBotRequest {}, &session.token)).await.unwrap().into_inner();
    let status = stopped.bot_status.unwrap();
    assert!(!status.enabled);
    assert!(status.ai_warning.contains("no AI key"), "managed, and no platform key: {}", status.ai_warning);
    assert_eq!(status.paused_count, 2);
    assert_eq!(edge.stops(&b.id)[0].reason(), ResourceStopReason::BotStopped);
    assert_eq!(get(&app, &session.token, &b.id).await.state_reason, "BOT_STOPPED");

    // Bot on again: only the active one runs.
    start_bot(&app, &session.token).await;
    state_becomes(&app, &session.token, &b.id, ResourceState::Ready).await;
    assert_eq!(get(&app, &session.token, &a.id).await.state(), ResourceState::Paused);
    app.resources().delete_resource(authed(DeleteResourceRequest { id: b.id.clone() }, &session.token)).await.unwrap();
    assert_eq!(edge.stops(&b.id).last().unwrap().reason(), ResourceStopReason::Deleted);
    let status =
        app.resources().get_resource(authed(GetResourceRequest { id: b.id }, &session.token)).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
}

async fn changed_settings_restart_a_running_resource(backend: Backend) {
    let Some(app) = app(backend).await else { return };
    let Running { session, edge, resource } = running(&app).await;
    let rename = UpdateResourceRequest {
        resource: Some(Resource { id: resource.id.clone(), name: "Renamed".into(), ..Default::default() }),
        update_mask: Some(FieldMask { paths: vec!["name".into()] }),
        clear_secrets: vec![],
    };
    app.resources().update_resource(authed(rename, &session.token)).await.unwrap();
    assert_eq!(edge.starts(&resource.id).len(), 1, "a new name needs no restart");
    let new_token = UpdateResourceRequest {
        resource: Some(Resource {
            id: resource.id.clone(),
            secrets: [("api_token".into(), TOKEN_B.into())].into(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask { paths: vec!["secrets".into()] }),
        clear_secrets: vec![],
    };
    app.resources().update_resource(authed(new_token, &session.token)).await.unwrap();
    until("a second start", || edge.starts(&resource.id).len() == 2).await;
    assert_eq!(edge.starts(&resource.id)[1].secrets["api_token"], TOKEN_B);
    state_becomes(&app, &session.token, &resource.id, ResourceState::Ready).await;
}

async fn core_restarting_under_an_edge_loses_nothing(backend: Backend) {
    let Some(app) = app(backend).await else { return };
    let Running { session, edge, resource } = running(&app).await;

    let mut watch =
        app.bot().watch_bot_status(authed(WatchBotStatusRequest {}, &session.token)).await.unwrap().into_inner();
    assert!(matches!(watch.message().await.unwrap().unwrap().event, Some(Event::Snapshot(_))));
    let app = app.restart().await;
    let ended = edge.ended.lock().unwrap().clone().expect("the edge's stream ended with core");
    assert_eq!(ended.code(), Code::Unavailable, "{ended:?}");
    let watch_ended = watch.message().await.expect_err("the watch ends with core");
    assert_eq!(watch_ended.code(), Code::Unavailable, "{watch_ended:?}");
    let waiting = get(&app, &session.token, &resource.id).await;
    assert_eq!(waiting.state(), ResourceState::Pending, "not ready before an edge runs it: {waiting:?}");

    // The edge attaches again, as its client does after a broken stream.
    let again = TestEdge::attach(app.channel.clone(), "testchan", "one").await;
    state_becomes(&app, &session.token, &resource.id, ResourceState::Ready).await;
    assert_eq!(again.starts(&resource.id).len(), 1);
}

async fn watchers_see_a_snapshot_then_each_change(backend: Backend) {
    let Some(app) = app(backend).await else { return };
    let (_, session) = app.register("ann").await;
    let (_, other) = app.register("bob").await;
    let _edge = TestEdge::attach(app.channel.clone(), "testchan", "one").await;
    let mut watch =
        app.bot().watch_bot_status(authed(WatchBotStatusRequest {}, &session.token)).await.unwrap().into_inner();
    let Some(Event::Snapshot(first)) = watch.message().await.unwrap().unwrap().event else {
        panic!("a snapshot first")
    };
    assert!(!first.enabled && first.resources.is_empty());

    // Another user's changes are not seen.
    create(&app, &other.token, new_resource("Theirs", "{}", TOKEN_B)).await;
    start_bot(&app, &session.token).await;
    let Some(Event::Snapshot(on)) = watch.message().await.unwrap().unwrap().event else {
        panic!("a snapshot on switch")
    };
    assert!(on.enabled);
    let resource = create(&app, &session.token, new_resource("Mine", "{}", TOKEN_A)).await;
    let mut states = Vec::new();
    while states.last() != Some(&ResourceState::Ready) {
        let message = tokio::time::timeout(Duration::from_secs(10), watch.message()).await.expect("a change comes");
        match message.unwrap().unwrap().event.unwrap() {
            Event::ResourceChanged(status) => {
                assert_eq!(status.resource_id, resource.id, "only the caller's resources");
                states.push(status.state());
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(states.contains(&ResourceState::Pending), "{states:?}");
    app.resources()
        .delete_resource(authed(DeleteResourceRequest { id: resource.id.clone() }, &session.token))
        .await
        .unwrap();
    loop {
        match watch.message().await.unwrap().unwrap().event.unwrap() {
            Event::ResourceDeleted(deleted) => {
                assert_eq!(deleted.resource_id, resource.id);
                break;
            }
            Event::ResourceChanged(_) => continue,
            Event::Snapshot(_) => panic!("no snapshot expected"),
        }
    }
}

async fn another_users_resources_are_not_found(backend: Backend) {
    let Some(app) = app(backend).await else { return };
    let (_, ann) = app.register("ann").await;
    let (_, bob) = app.register("bob").await;
    let _edge = TestEdge::attach(app.channel.clone(), "testchan", "one").await;
    let resource = create(&app, &ann.token, new_resource("Shop", "{}", TOKEN_A)).await;
    let id = resource.id.clone();
    let update = || UpdateResourceRequest {
        resource: Some(Resource { id: id.clone(), name: "Mine now".into(), ..Default::default() }),
        update_mask: Some(FieldMask { paths: vec!["name".into()] }),
        clear_secrets: vec![],
    };
    for token in [Some(bob.token.as_str()), None] {
        let expected = if token.is_some() { Code::NotFound } else { Code::Unauthenticated };
        let mut client = app.resources();
        let codes = [
            client.get_resource(as_caller(token, GetResourceRequest { id: id.clone() })).await.unwrap_err().code(),
            client.update_resource(as_caller(token, update())).await.unwrap_err().code(),
            client
                .activate_resource(as_caller(token, ActivateResourceRequest { id: id.clone() }))
                .await
                .unwrap_err()
                .code(),
            client.pause_resource(as_caller(token, PauseResourceRequest { id: id.clone() })).await.unwrap_err().code(),
            client
                .delete_resource(as_caller(token, DeleteResourceRequest { id: id.clone() }))
                .await
                .unwrap_err()
                .code(),
        ];
        assert!(codes.iter().all(|code| *code == expected), "{token:?}: {codes:?}");
        if token.is_some() {
            let listed =
                client.list_resources(as_caller(token, ListResourcesRequest::default())).await.unwrap().into_inner();
            assert!(listed.resources.is_empty());
            let status = app.bot().get_bot_status(as_caller(token, GetBotStatusRequest {})).await.unwrap().into_inner();
            assert!(status.bot_status.unwrap().resources.is_empty());
        } else {
            assert_eq!(
                client.list_resources(as_caller(token, ListResourcesRequest::default())).await.unwrap_err().code(),
                expected
            );
            assert_eq!(app.bot().start_bot(as_caller(token, StartBotRequest {})).await.unwrap_err().code(), expected);
        }
    }
    let kept = get(&app, &ann.token, &id).await;
    assert_eq!((kept.name.as_str(), kept.desired_state()), ("Shop", ResourceDesiredState::Active));
}
