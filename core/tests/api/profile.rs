//! ProfileService: own data, AI settings, and the own OpenAI key sealed at rest.

use assistchat_proto::v1::{
    AiMode, ClearOpenAiKeyRequest, GetProfileRequest, OpenAiKeyState, Profile, SetOpenAiKeyRequest,
    UpdateProfileRequest,
};
use prost_types::FieldMask;
use sqlx::{Connection, Row};
use tonic::{Code, Request};

use crate::{
    both_backends,
    helpers::{Backend, authed, spawn_app, spawn_app_with, violated_field},
};

both_backends!(
    a_new_profile_has_the_defaults,
    updates_change_only_the_masked_fields,
    bad_updates_name_the_field_and_change_nothing,
    the_own_key_is_masked_and_sealed_at_rest,
    the_own_key_can_be_cleared,
    profile_calls_need_a_valid_token,
    each_user_sees_only_their_own_profile,
);

const KEY: &str = "sk-proj-0123456789abcdefghijWXYZ";

fn update(profile: Profile, paths: &[&str]) -> UpdateProfileRequest {
    UpdateProfileRequest {
        profile: Some(profile),
        update_mask: Some(FieldMask { paths: paths.iter().map(|p| p.to_string()).collect() }),
    }
}

async fn a_new_profile_has_the_defaults(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (user, session) = app.register("ann").await;
    let profile = app.profile().get_profile(authed(GetProfileRequest {}, &session.token)).await.unwrap();
    let profile = profile.into_inner().profile.unwrap();
    assert_eq!(profile.user_id, user.id);
    assert_eq!(profile.email, user.email);
    assert_eq!(profile.display_name, "ann");
    assert_eq!(profile.language_code, "en");
    assert_eq!(profile.ai_mode(), AiMode::Managed);
    assert_eq!(profile.openai_key_state(), OpenAiKeyState::Missing);
    assert_eq!(profile.openai_key_mask, "");
}

async fn updates_change_only_the_masked_fields(backend: Backend) {
    // The operator allows a model server on this machine, by the name users give it.
    let Some(app) = spawn_app_with(backend, |config| config.outbound_allow = vec!["localhost".into()]).await else {
        return;
    };
    let (_, session) = app.register("ann").await;
    let changes = Profile {
        display_name: "Ann Lee".into(),
        language_code: "ru".into(),
        ai_mode: AiMode::Byok.into(),
        openai_base_url: "http://localhost:11434/v1/".into(),
        openai_model: "llama3.1:8b".into(),
        ..Default::default()
    };
    let request = update(changes.clone(), &["display_name", "ai_mode", "openai_base_url", "openai_model"]);
    let updated = app.profile().update_profile(authed(request, &session.token)).await.unwrap().into_inner();
    let profile = updated.profile.unwrap();
    assert_eq!(profile.display_name, "Ann Lee");
    assert_eq!(profile.language_code, "en", "not in the mask, not changed");
    assert_eq!(profile.ai_mode(), AiMode::Byok);
    assert_eq!(profile.openai_base_url, "http://localhost:11434/v1");
    assert_eq!(profile.openai_model, "llama3.1:8b");

    // Without a mask, every field given a value changes.
    let request = UpdateProfileRequest {
        profile: Some(Profile { language_code: "ru".into(), ..Default::default() }),
        update_mask: None,
    };
    let profile = app.profile().update_profile(authed(request, &session.token)).await.unwrap().into_inner();
    let profile = profile.profile.unwrap();
    assert_eq!(profile.language_code, "ru");
    assert_eq!(profile.display_name, "Ann Lee");
    assert_eq!(profile.ai_mode(), AiMode::Byok);

    // Naming a field with an empty value clears it; the change is stored.
    let request = update(Profile::default(), &["openai_base_url"]);
    app.profile().update_profile(authed(request, &session.token)).await.unwrap();
    let stored = app.profile().get_profile(authed(GetProfileRequest {}, &session.token)).await.unwrap();
    let stored = stored.into_inner().profile.unwrap();
    assert_eq!(stored.openai_base_url, "");
    assert_eq!(stored.openai_model, "llama3.1:8b");
}

async fn bad_updates_name_the_field_and_change_nothing(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (_, session) = app.register("ann").await;
    let before = app.profile().get_profile(authed(GetProfileRequest {}, &session.token)).await.unwrap();
    let before = before.into_inner().profile.unwrap();
    let good_name = Profile { display_name: "Changed".into(), ..Default::default() };
    let cases = [
        (
            update(
                Profile { openai_base_url: "ftp://x".into(), ..good_name.clone() },
                &["display_name", "openai_base_url"],
            ),
            "profile.openai_base_url",
        ),
        (
            update(
                Profile { openai_model: "two words".into(), ..good_name.clone() },
                &["display_name", "openai_model"],
            ),
            "profile.openai_model",
        ),
        (
            update(Profile { language_code: "xx".into(), ..good_name.clone() }, &["display_name", "language_code"]),
            "profile.language_code",
        ),
        (update(good_name.clone(), &["display_name", "ai_mode"]), "profile.ai_mode"),
        (update(good_name.clone(), &["display_name", "email"]), "update_mask"),
        (update(good_name.clone(), &["display_name", "nickname"]), "update_mask"),
        (update(Profile::default(), &["display_name"]), "profile.display_name"),
        (UpdateProfileRequest { profile: None, update_mask: None }, "profile"),
    ];
    for (request, field) in cases {
        let status = app.profile().update_profile(authed(request, &session.token)).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert_eq!(violated_field(&status), field);
    }
    let after = app.profile().get_profile(authed(GetProfileRequest {}, &session.token)).await.unwrap();
    assert_eq!(after.into_inner().profile.unwrap(), before, "no failed update changed anything");
}

async fn the_own_key_is_masked_and_sealed_at_rest(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (user, session) = app.register("ann").await;
    let set = |key: &str| authed(SetOpenAiKeyRequest { api_key: key.into() }, &session.token);
    for bad in ["short", "has a space in it", &"k".repeat(513)] {
        let status = app.profile().set_open_ai_key(set(bad)).await.unwrap_err();
        assert_eq!(violated_field(&status), "api_key");
        assert!(!status.message().contains(bad), "the rejected key is not echoed");
    }
    let response = app.profile().set_open_ai_key(set(KEY)).await.unwrap().into_inner();
    // Checked against the platform's server (the user set none), here the fake on loopback.
    assert_eq!(response.warning, "", "the key was checked and accepted");
    let checked: Vec<_> = app.openai.all_requests().iter().filter_map(|r| r.api_key().map(str::to_owned)).collect();
    assert_eq!(checked, [KEY]);
    let profile = response.profile.unwrap();
    assert_eq!(profile.openai_key_mask, "sk-...WXYZ");
    assert_eq!(profile.openai_key_state(), OpenAiKeyState::Set);
    let fetched = app.profile().get_profile(authed(GetProfileRequest {}, &session.token)).await.unwrap();
    let fetched = format!("{:?}", fetched.into_inner());
    assert!(fetched.contains("sk-...WXYZ") && !fetched.contains(KEY));

    // At rest: sealed, naming the key it was sealed under, and nowhere in clear.
    let url = app.config.database_url();
    let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
    let row = sqlx::query("SELECT openai_key_sealed FROM profiles WHERE user_id = $1")
        .bind(&user.id)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let sealed: String = row.get(0);
    assert!(sealed.starts_with("v1."), "{sealed}");
    assert!(!sealed.contains("0123456789abcdefghij"));
    // Replacing works, and the new mask shows.
    let replaced = app.profile().set_open_ai_key(set("sk-other-key-1234")).await.unwrap().into_inner();
    assert_eq!(replaced.profile.unwrap().openai_key_mask, "sk-...1234");
}

async fn the_own_key_can_be_cleared(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (_, session) = app.register("ann").await;
    app.profile().set_open_ai_key(authed(SetOpenAiKeyRequest { api_key: KEY.into() }, &session.token)).await.unwrap();
    let cleared = app.profile().clear_open_ai_key(authed(ClearOpenAiKeyRequest {}, &session.token)).await.unwrap();
    let profile = cleared.into_inner().profile.unwrap();
    assert_eq!(profile.openai_key_state(), OpenAiKeyState::Missing);
    assert_eq!(profile.openai_key_mask, "");
    // Clearing again is not an error.
    app.profile().clear_open_ai_key(authed(ClearOpenAiKeyRequest {}, &session.token)).await.unwrap();
}

async fn profile_calls_need_a_valid_token(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    fn request<T>(message: T, token: Option<&str>) -> Request<T> {
        match token {
            Some(token) => authed(message, token),
            None => Request::new(message),
        }
    }
    for token in [None, Some("acs_forged")] {
        let mut profile = app.profile();
        let statuses = [
            profile.get_profile(request(GetProfileRequest {}, token)).await.unwrap_err(),
            profile.update_profile(request(UpdateProfileRequest::default(), token)).await.unwrap_err(),
            profile.set_open_ai_key(request(SetOpenAiKeyRequest { api_key: KEY.into() }, token)).await.unwrap_err(),
            profile.clear_open_ai_key(request(ClearOpenAiKeyRequest {}, token)).await.unwrap_err(),
        ];
        for status in statuses {
            assert_eq!(status.code(), Code::Unauthenticated, "{token:?}: {status:?}");
        }
    }
}

async fn each_user_sees_only_their_own_profile(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (ann, ann_session) = app.register("ann").await;
    let (bob, bob_session) = app.register("bob").await;
    app.profile()
        .set_open_ai_key(authed(SetOpenAiKeyRequest { api_key: KEY.into() }, &ann_session.token))
        .await
        .unwrap();
    let request = update(Profile { display_name: "Bobby".into(), ..Default::default() }, &["display_name"]);
    app.profile().update_profile(authed(request, &bob_session.token)).await.unwrap();

    let ann_view = app.profile().get_profile(authed(GetProfileRequest {}, &ann_session.token)).await.unwrap();
    let ann_view = ann_view.into_inner().profile.unwrap();
    let bob_view = app.profile().get_profile(authed(GetProfileRequest {}, &bob_session.token)).await.unwrap();
    let bob_view = bob_view.into_inner().profile.unwrap();
    assert_eq!((ann_view.user_id.as_str(), ann_view.display_name.as_str()), (ann.id.as_str(), "ann"));
    assert_eq!(ann_view.openai_key_state(), OpenAiKeyState::Set);
    assert_eq!((bob_view.user_id.as_str(), bob_view.display_name.as_str()), (bob.id.as_str(), "Bobby"));
    assert_eq!(bob_view.openai_key_state(), OpenAiKeyState::Missing, "ann's key is not bob's");
    // A user id in the request body is ignored: the caller's own profile is the one changed.
    let request = update(
        Profile { user_id: ann.id.clone(), display_name: "Hijack".into(), ..Default::default() },
        &["display_name"],
    );
    let changed = app.profile().update_profile(authed(request, &bob_session.token)).await.unwrap();
    assert_eq!(changed.into_inner().profile.unwrap().user_id, bob.id);
    let ann_again = app.profile().get_profile(authed(GetProfileRequest {}, &ann_session.token)).await.unwrap();
    assert_eq!(ann_again.into_inner().profile.unwrap().display_name, "ann");
}
