//! ConversationService end to end: many conversations per person, each with its own memory,
//! titles, search by word across the browser and a channel, models, stop, regenerate, export
//! and delete, and another person seeing none of it.

use std::time::Duration;

use assistchat_fakes::{Behaviour, FakeOpenAi};
use assistchat_proto::v1::{
    Conversation, ConversationResult, CreateConversationRequest, DeleteConversationRequest, ExportConversationRequest,
    ExportFormat, GetConversationRequest, GetUsageRequest, ListConversationsRequest, ListMessagesRequest,
    ListModelsRequest, Message, MessageRole, RegenerateReplyRequest, ResetConversationRequest, Resource, ResourceState,
    SendChatMessageRequest, StopMessageRequest, StreamMessageRequest, StreamMessageResponse, UpdateConversationRequest,
    UpdateResourceRequest, conversation_service_client::ConversationServiceClient,
    edge_service_client::EdgeServiceClient, regenerate_reply_response, stream_message_response::Event,
};
use prost_types::FieldMask;
use serde_json::Value;
use tonic::{Code, Status, transport::Channel};

use crate::{
    both_backends,
    conversations::{app_with, converse},
    helpers::{Backend, TestApp, authed, eventually, violated_field},
    resources::{TOKEN_B, new_resource, running, state_becomes},
    test_edge::EDGE_TOKEN,
};

both_backends!(
    each_conversation_keeps_its_own_memory_and_another_person_sees_none,
    search_finds_a_word_in_any_channel_in_english_and_russian,
    deleting_a_conversation_takes_its_messages_and_search_hits,
    a_conversation_asks_the_model_it_chose_among_those_offered,
    stopping_keeps_what_the_model_wrote_and_counts_it,
    regenerating_replaces_the_last_reply,
    an_export_holds_every_message,
    conversations_are_titled_by_the_model_or_their_first_words,
    a_channel_reset_starts_a_new_conversation_and_keeps_the_old,
);

fn client(app: &TestApp) -> ConversationServiceClient<Channel> {
    ConversationServiceClient::new(app.channel.clone())
}

async fn create(app: &TestApp, token: &str, title: &str) -> Conversation {
    let conversation = Conversation { title: title.into(), ..Default::default() };
    let request = authed(CreateConversationRequest { conversation: Some(conversation) }, token);
    client(app).create_conversation(request).await.unwrap().into_inner().conversation.unwrap()
}

/// Sends `text` in conversation `id` and reads the whole stream: its events, or the error.
async fn send(app: &TestApp, token: &str, id: &str, text: &str) -> Result<Vec<Event>, Status> {
    let request =
        StreamMessageRequest { conversation_id: id.into(), text: text.into(), client_message_id: String::new() };
    let stream = client(app).stream_message(authed(request, token)).await?.into_inner();
    collect(stream).await
}

async fn collect(mut stream: tonic::Streaming<StreamMessageResponse>) -> Result<Vec<Event>, Status> {
    let mut events = Vec::new();
    while let Some(message) = stream.message().await? {
        events.push(message.event.unwrap());
    }
    Ok(events)
}

/// The stored reply a stream ended with.
fn reply(events: &[Event]) -> Message {
    match events.last() {
        Some(Event::Reply(reply)) => reply.clone(),
        other => panic!("the stream ended without its reply: {other:?}"),
    }
}

async fn get(app: &TestApp, token: &str, id: &str) -> Result<Conversation, Status> {
    let request = authed(GetConversationRequest { conversation_id: id.into() }, token);
    Ok(client(app).get_conversation(request).await?.into_inner().conversation.unwrap())
}

async fn list(app: &TestApp, token: &str, filter: &str, query: &str) -> Vec<ConversationResult> {
    let request = ListConversationsRequest { filter: filter.into(), query: query.into(), ..Default::default() };
    client(app).list_conversations(authed(request, token)).await.unwrap().into_inner().results
}

fn titles(results: &[ConversationResult]) -> Vec<String> {
    results.iter().map(|result| result.conversation.as_ref().unwrap().title.clone()).collect()
}

/// The texts of a conversation, oldest first.
async fn texts(app: &TestApp, token: &str, id: &str) -> Result<Vec<String>, Status> {
    let request = authed(ListMessagesRequest { conversation_id: id.into(), ..Default::default() }, token);
    let listed = client(app).list_messages(request).await?.into_inner();
    Ok(listed.messages.into_iter().rev().map(|message| message.text).collect())
}

/// The users' turns of the last request the model got.
fn asked(fake: &FakeOpenAi) -> Vec<String> {
    let last = fake.requests().pop().unwrap();
    last.messages().iter().filter(|m| m["role"] == "user").map(|m| m["content"].as_str().unwrap().to_owned()).collect()
}

async fn each_conversation_keeps_its_own_memory_and_another_person_sees_none(backend: Backend) {
    let fake = FakeOpenAi::start().await;
    let Some(app) = app_with(backend, &fake, |_| {}).await else { return };
    let (_, ann) = app.register("ann").await;
    let trip = create(&app, &ann.token, "").await;
    let bread = create(&app, &ann.token, "Bread").await;
    assert_eq!((trip.channel.as_str(), trip.title.as_str(), trip.message_count), ("browser", "", 0));
    assert!(bread.current && !get(&app, &ann.token, &trip.id).await.unwrap().current, "the newest is the latest");

    let events = send(&app, &ann.token, &trip.id, "we fly to Rome").await.unwrap();
    assert!(matches!(&events[0], Event::UserMessage(message) if message.text == "we fly to Rome"));
    assert_eq!(reply(&events).text, "You said: we fly to Rome");
    assert_eq!(reply(&events).model, "platform-model", "the reply records its model");
    send(&app, &ann.token, &bread.id, "how long to knead").await.unwrap();
    send(&app, &ann.token, &trip.id, "and then Naples").await.unwrap();
    assert_eq!(asked(&fake), ["we fly to Rome", "and then Naples"], "each conversation its own memory");
    assert_eq!(texts(&app, &ann.token, &bread.id).await.unwrap(), ["how long to knead", "You said: how long to knead"]);

    // The list has the most recently active first; a conversation is titled by its first words
    // unless the person named it.
    let listed = list(&app, &ann.token, "", "").await;
    assert_eq!(titles(&listed), ["we fly to Rome", "Bread"]);
    assert_eq!(listed[0].conversation.as_ref().unwrap().message_count, 4);

    // Renamed by the person; a bad title or mask names its field.
    let renamed = Conversation { id: trip.id.clone(), title: "  Italy  ".into(), ..Default::default() };
    let mask = Some(FieldMask { paths: vec!["title".into()] });
    let request = UpdateConversationRequest { conversation: Some(renamed.clone()), update_mask: mask.clone() };
    let updated = client(&app).update_conversation(authed(request, &ann.token)).await.unwrap().into_inner();
    assert_eq!(updated.conversation.unwrap().title, "Italy");
    let long = Conversation { title: "x".repeat(201), ..renamed.clone() };
    let request = UpdateConversationRequest { conversation: Some(long), update_mask: mask.clone() };
    let refused = client(&app).update_conversation(authed(request, &ann.token)).await.unwrap_err();
    assert_eq!((refused.code(), violated_field(&refused).as_str()), (Code::InvalidArgument, "conversation.title"));
    let request = UpdateConversationRequest {
        conversation: Some(renamed.clone()),
        update_mask: Some(FieldMask { paths: vec!["channel".into()] }),
    };
    let refused = client(&app).update_conversation(authed(request, &ann.token)).await.unwrap_err();
    assert_eq!(violated_field(&refused), "update_mask");

    // BotService's chat is the latest browser conversation.
    let chat = SendChatMessageRequest { text: "what rises".into(), client_message_id: String::new() };
    app.bot().send_chat_message(authed(chat, &ann.token)).await.unwrap();
    assert_eq!(asked(&fake), ["how long to knead", "what rises"]);

    // Another person sees none of it and can change none of it.
    let (_, bob) = app.register("bob").await;
    assert!(list(&app, &bob.token, "", "").await.is_empty());
    assert_eq!(get(&app, &bob.token, &trip.id).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(texts(&app, &bob.token, &trip.id).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(send(&app, &bob.token, &trip.id, "hijack").await.unwrap_err().code(), Code::NotFound);
    let request = UpdateConversationRequest { conversation: Some(renamed), update_mask: mask };
    assert_eq!(client(&app).update_conversation(authed(request, &bob.token)).await.unwrap_err().code(), Code::NotFound);
    let request = DeleteConversationRequest { conversation_id: trip.id.clone() };
    assert_eq!(client(&app).delete_conversation(authed(request, &bob.token)).await.unwrap_err().code(), Code::NotFound);
    let request = ExportConversationRequest { conversation_id: trip.id.clone(), format: ExportFormat::Json.into() };
    assert_eq!(client(&app).export_conversation(authed(request, &bob.token)).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(texts(&app, &ann.token, &trip.id).await.unwrap().len(), 4, "nothing of ann's changed");
    let unsigned = tonic::Request::new(ListConversationsRequest::default());
    assert_eq!(client(&app).list_conversations(unsigned).await.unwrap_err().code(), Code::Unauthenticated);
}

async fn search_finds_a_word_in_any_channel_in_english_and_russian(backend: Backend) {
    let fake = FakeOpenAi::start().await;
    let Some(app) = app_with(backend, &fake, |_| {}).await else { return };
    let run = running(&app).await;
    let token = &run.session.token;
    let browser = create(&app, token, "Holiday").await;
    send(&app, token, &browser.id, "Which museums should we see in Rome?").await.unwrap();
    send(&app, token, &browser.id, "Something else entirely").await.unwrap();
    let mut edge = EdgeServiceClient::new(app.channel.clone());
    let message = converse(&run.resource.id, "chat-1", "u1", "Поезд в Новосибирск уходит вечером");
    edge.converse(authed(message, EDGE_TOKEN)).await.unwrap();

    let found = list(&app, token, "", "rome").await;
    assert_eq!(titles(&found), ["Holiday"], "found by a word of one conversation only");
    let matched = found[0].r#match.as_ref().unwrap();
    assert_eq!(matched.role(), MessageRole::Assistant, "the newest matching message: the reply repeating it");
    assert!(matched.snippet.contains("Rome"), "{}", matched.snippet);
    // The question and its reply both match: the conversation is listed once.
    assert_eq!(list(&app, token, "", "ROME museums").await.len(), 1, "every word, in any case");
    assert!(list(&app, token, "", "rome naples").await.is_empty(), "every word must match");
    assert!(list(&app, token, "", "rom").await.is_empty(), "whole words");

    let russian = list(&app, token, "", "новосибирск").await;
    assert_eq!(russian.len(), 1);
    let channel = russian[0].conversation.as_ref().unwrap();
    assert_eq!((channel.channel.as_str(), channel.resource_id.as_str()), ("testchan", run.resource.id.as_str()));
    assert_eq!((channel.peer_name.as_str(), channel.resource_name.as_str()), ("Zoe", "Shop"));
    assert!(russian[0].r#match.as_ref().unwrap().snippet.contains("Новосибирск"));
    assert_eq!(list(&app, token, "", "ПОЕЗД").await.len(), 1, "Cyrillic folds case too");

    // Filters by channel, and bad filters and queries name their field.
    assert!(list(&app, token, "channel = \"browser\"", "новосибирск").await.is_empty());
    assert_eq!(list(&app, token, "channel = \"testchan\"", "новосибирск").await.len(), 1);
    assert_eq!(list(&app, token, &format!("resource_id = \"{}\"", run.resource.id), "").await.len(), 1);
    assert_eq!(titles(&list(&app, token, "channel = \"browser\"", "").await), ["Holiday"]);
    for (filter, query, field) in [("owner = \"x\"", "", "filter"), ("", &*"w ".repeat(101), "query")] {
        let request = ListConversationsRequest { filter: filter.into(), query: query.into(), ..Default::default() };
        let refused = client(&app).list_conversations(authed(request, token)).await.unwrap_err();
        assert_eq!((refused.code(), violated_field(&refused).as_str()), (Code::InvalidArgument, field));
    }

    // Pages of a search follow each other.
    for n in 0..3 {
        let other = create(&app, token, &format!("Rome {n}")).await;
        send(&app, token, &other.id, &format!("rome again {n}")).await.unwrap();
    }
    let request = ListConversationsRequest { query: "rome".into(), page_size: 3, ..Default::default() };
    let page = client(&app).list_conversations(authed(request, token)).await.unwrap().into_inner();
    assert_eq!(titles(&page.results), ["Rome 2", "Rome 1", "Rome 0"]);
    let request = ListConversationsRequest {
        query: "rome".into(),
        page_size: 3,
        page_token: page.next_page_token,
        ..Default::default()
    };
    let rest = client(&app).list_conversations(authed(request, token)).await.unwrap().into_inner();
    assert_eq!((titles(&rest.results), rest.next_page_token.as_str()), (vec!["Holiday".to_owned()], ""));

    // Another person finds nothing of it.
    let (_, bob) = app.register("bob").await;
    assert!(list(&app, &bob.token, "", "rome").await.is_empty());
    assert!(list(&app, &bob.token, "", "новосибирск").await.is_empty());
}

async fn deleting_a_conversation_takes_its_messages_and_search_hits(backend: Backend) {
    let fake = FakeOpenAi::start().await;
    let Some(app) = app_with(backend, &fake, |_| {}).await else { return };
    let (_, ann) = app.register("ann").await;
    let gone = create(&app, &ann.token, "").await;
    let kept = create(&app, &ann.token, "").await;
    send(&app, &ann.token, &gone.id, "zanzibar spices").await.unwrap();
    send(&app, &ann.token, &kept.id, "zanzibar beaches").await.unwrap();
    assert_eq!(list(&app, &ann.token, "", "zanzibar").await.len(), 2);

    let request = DeleteConversationRequest { conversation_id: gone.id.clone() };
    client(&app).delete_conversation(authed(request.clone(), &ann.token)).await.unwrap();
    let left = list(&app, &ann.token, "", "zanzibar").await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].conversation.as_ref().unwrap().id, kept.id);
    assert!(list(&app, &ann.token, "", "spices").await.is_empty(), "its search hits went with it");
    assert_eq!(texts(&app, &ann.token, &gone.id).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(client(&app).delete_conversation(authed(request, &ann.token)).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(texts(&app, &ann.token, &kept.id).await.unwrap().len(), 2);
}

async fn a_conversation_asks_the_model_it_chose_among_those_offered(backend: Backend) {
    let fake = FakeOpenAi::start().await;
    let Some(app) = app_with(backend, &fake, |config| {
        config.managed_models = vec!["big-model".into(), "platform-model".into()];
    })
    .await
    else {
        return;
    };
    let (_, ann) = app.register("ann").await;
    let offered = client(&app).list_models(authed(ListModelsRequest {}, &ann.token)).await.unwrap().into_inner();
    let models: Vec<_> = offered.models.iter().map(|model| (model.id.as_str(), model.default)).collect();
    assert_eq!(models, [("big-model", false), ("platform-model", true)]);

    let conversation = create(&app, &ann.token, "").await;
    let mask = Some(FieldMask { paths: vec!["model".into()] });
    let chosen = Conversation { id: conversation.id.clone(), model: "big-model".into(), ..Default::default() };
    let request = UpdateConversationRequest { conversation: Some(chosen), update_mask: mask.clone() };
    client(&app).update_conversation(authed(request, &ann.token)).await.unwrap();
    let answered = send(&app, &ann.token, &conversation.id, "hi").await.unwrap();
    assert_eq!(fake.requests().pop().unwrap().model(), Some("big-model"), "the model was asked");
    assert_eq!(reply(&answered).model, "big-model");

    let other = create(&app, &ann.token, "").await;
    send(&app, &ann.token, &other.id, "hi").await.unwrap();
    assert_eq!(fake.requests().pop().unwrap().model(), Some("platform-model"), "others keep the default");

    let unknown = Conversation { id: conversation.id.clone(), model: "gpt-imaginary".into(), ..Default::default() };
    let request = UpdateConversationRequest { conversation: Some(unknown.clone()), update_mask: mask };
    let refused = client(&app).update_conversation(authed(request, &ann.token)).await.unwrap_err();
    assert_eq!((refused.code(), violated_field(&refused).as_str()), (Code::InvalidArgument, "conversation.model"));
    assert!(refused.message().contains("big-model"), "says which may be chosen: {}", refused.message());
    let request = CreateConversationRequest { conversation: Some(unknown) };
    let refused = client(&app).create_conversation(authed(request, &ann.token)).await.unwrap_err();
    assert_eq!(violated_field(&refused), "conversation.model");
    assert_eq!(get(&app, &ann.token, &conversation.id).await.unwrap().model, "big-model", "nothing stored was lost");

    // A resource's model setting is checked the same way, and its conversations ask it.
    let run = running(&app).await;
    let refused = app
        .resources()
        .create_resource(authed(new_resource("Big", r#"{"model": "gpt-imaginary"}"#, TOKEN_B), &run.session.token))
        .await
        .unwrap_err();
    assert_eq!(violated_field(&refused), "resource.meta_json.model");
    let resource =
        Resource { id: run.resource.id.clone(), meta_json: r#"{"model": "big-model"}"#.into(), ..Default::default() };
    let request = UpdateResourceRequest {
        resource: Some(resource),
        update_mask: Some(FieldMask { paths: vec!["meta_json".into()] }),
        clear_secrets: Vec::new(),
    };
    app.resources().update_resource(authed(request, &run.session.token)).await.unwrap();
    state_becomes(&app, &run.session.token, &run.resource.id, ResourceState::Ready).await;
    let mut edge = EdgeServiceClient::new(app.channel.clone());
    edge.converse(authed(converse(&run.resource.id, "chat-1", "u1", "hello"), EDGE_TOKEN)).await.unwrap();
    assert_eq!(fake.requests().pop().unwrap().model(), Some("big-model"), "the resource's model was asked");
}

async fn stopping_keeps_what_the_model_wrote_and_counts_it(backend: Backend) {
    let fake = FakeOpenAi::start().await;
    let Some(app) = app_with(backend, &fake, |_| {}).await else { return };
    let (_, ann) = app.register("ann").await;
    let conversation = create(&app, &ann.token, "").await;
    fake.set_reply("endless words");
    fake.push(Behaviour::Trickle { every: Duration::from_millis(20) });
    let request =
        StreamMessageRequest { conversation_id: conversation.id.clone(), text: "talk".into(), ..Default::default() };
    let mut stream = client(&app).stream_message(authed(request, &ann.token)).await.unwrap().into_inner();
    let mut deltas = String::new();
    while deltas.matches("endless").count() < 3 {
        match stream.message().await.unwrap().unwrap().event.unwrap() {
            Event::ReplyDelta(delta) => deltas.push_str(&delta),
            Event::UserMessage(_) => {}
            Event::Reply(reply) => panic!("a trickle does not end: {reply:?}"),
        }
    }
    let stop = StopMessageRequest { conversation_id: conversation.id.clone() };
    let stopped = client(&app).stop_message(authed(stop.clone(), &ann.token)).await.unwrap().into_inner();
    assert!(stopped.stopped);
    let rest = collect(stream).await.unwrap();
    let kept = reply(&rest);
    assert!(kept.stopped, "marked stopped");
    assert!(kept.text.starts_with(&deltas) && kept.text.contains("endless"), "{:?} from {deltas:?}", kept.text);
    assert!(kept.completion_tokens > 0, "its tokens are counted");
    let usage = app.bot().get_usage(authed(GetUsageRequest { day_count: 1 }, &ann.token)).await.unwrap().into_inner();
    assert_eq!(usage.days[0].request_count, 1);
    assert!(usage.days[0].completion_tokens > 0 && usage.days[0].estimated);
    assert_eq!(texts(&app, &ann.token, &conversation.id).await.unwrap(), ["talk".to_owned(), kept.text.clone()]);
    // Nothing is being written now; another person cannot stop ann's replies.
    let again = client(&app).stop_message(authed(stop.clone(), &ann.token)).await.unwrap().into_inner();
    assert!(!again.stopped);
    let (_, bob) = app.register("bob").await;
    assert_eq!(client(&app).stop_message(authed(stop, &bob.token)).await.unwrap_err().code(), Code::NotFound);
}

async fn regenerating_replaces_the_last_reply(backend: Backend) {
    let fake = FakeOpenAi::start().await;
    let Some(app) = app_with(backend, &fake, |_| {}).await else { return };
    let (_, ann) = app.register("ann").await;
    let conversation = create(&app, &ann.token, "").await;
    let request = || authed(RegenerateReplyRequest { conversation_id: conversation.id.clone() }, &ann.token);
    let refused = client(&app).regenerate_reply(request()).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "nothing to answer yet");

    fake.push(Behaviour::Reply("first try".into()));
    send(&app, &ann.token, &conversation.id, "a poem please").await.unwrap();
    fake.push(Behaviour::Reply("second try".into()));
    let mut stream = client(&app).regenerate_reply(request()).await.unwrap().into_inner();
    let mut events = Vec::new();
    while let Some(message) = stream.message().await.unwrap() {
        events.push(match message.event.unwrap() {
            regenerate_reply_response::Event::UserMessage(message) => Event::UserMessage(message),
            regenerate_reply_response::Event::ReplyDelta(text) => Event::ReplyDelta(text),
            regenerate_reply_response::Event::Reply(message) => Event::Reply(message),
        });
    }
    assert!(matches!(&events[0], Event::UserMessage(message) if message.text == "a poem please"));
    assert_eq!(reply(&events).text, "second try");
    assert_eq!(texts(&app, &ann.token, &conversation.id).await.unwrap(), ["a poem please", "second try"]);
    assert_eq!(asked(&fake), ["a poem please"], "the model saw the question, not the old reply");
    assert_eq!(get(&app, &ann.token, &conversation.id).await.unwrap().message_count, 2);
}

async fn an_export_holds_every_message(backend: Backend) {
    let fake = FakeOpenAi::start().await;
    let Some(app) = app_with(backend, &fake, |_| {}).await else { return };
    let (_, ann) = app.register("ann").await;
    let conversation = create(&app, &ann.token, "Trip to Rome").await;
    send(&app, &ann.token, &conversation.id, "first *question*").await.unwrap();
    send(&app, &ann.token, &conversation.id, "second question").await.unwrap();

    let request =
        ExportConversationRequest { conversation_id: conversation.id.clone(), format: ExportFormat::Json.into() };
    let file = client(&app).export_conversation(authed(request, &ann.token)).await.unwrap().into_inner();
    assert_eq!((file.file_name.as_str(), file.content_type.as_str()), ("trip-to-rome.json", "application/json"));
    let json: Value = serde_json::from_slice(&file.content).unwrap();
    assert_eq!(json["title"], "Trip to Rome");
    assert_eq!(json["channel"], "browser");
    let messages = json["messages"].as_array().unwrap();
    let texts: Vec<_> = messages.iter().map(|m| (m["role"].as_str().unwrap(), m["text"].as_str().unwrap())).collect();
    assert_eq!(
        texts,
        [
            ("user", "first *question*"),
            ("assistant", "You said: first *question*"),
            ("user", "second question"),
            ("assistant", "You said: second question"),
        ]
    );
    assert_eq!(messages[1]["model"], "platform-model");
    assert!(messages[1]["completion_tokens"].as_i64().unwrap() > 0);
    assert!(messages[0]["create_time"].as_str().unwrap().ends_with('Z'));

    let request =
        ExportConversationRequest { conversation_id: conversation.id.clone(), format: ExportFormat::Markdown.into() };
    let file = client(&app).export_conversation(authed(request, &ann.token)).await.unwrap().into_inner();
    assert_eq!(file.file_name, "trip-to-rome.md");
    let markdown = String::from_utf8(file.content).unwrap();
    assert!(markdown.starts_with("# Trip to Rome\n"), "{markdown}");
    for text in ["first *question*", "You said: first *question*", "second question", "You said: second question"] {
        assert!(markdown.contains(text), "{text} in {markdown}");
    }
    assert!(markdown.contains("Assistant (platform-model)"), "{markdown}");
}

async fn conversations_are_titled_by_the_model_or_their_first_words(backend: Backend) {
    let fake = FakeOpenAi::start().await;
    let Some(app) = app_with(backend, &fake, |config| config.model_titles = true).await else { return };
    let (_, ann) = app.register("ann").await;
    let titled = create(&app, &ann.token, "").await;
    fake.push(Behaviour::Reply("Rome has many museums.".into()));
    fake.push(Behaviour::Reply("\"Museums of Rome.\"".into()));
    send(&app, &ann.token, &titled.id, "which museums in rome").await.unwrap();
    let title_of = |id: String| {
        let (app, token) = (&app, ann.token.clone());
        async move { get(app, &token, &id).await.map(|c| c.title).unwrap_or_default() }
    };
    eventually("the model's title", || {
        let title = title_of(titled.id.clone());
        async move { if title.await == "Museums of Rome" { Ok(()) } else { Err("not titled yet") } }
    })
    .await;
    let title_request = fake.requests().pop().unwrap();
    assert!(title_request.messages()[1]["content"].as_str().unwrap().contains("Rome has many museums."));

    // The model's second exchange changes nothing; a person's title stays.
    send(&app, &ann.token, &titled.id, "and churches").await.unwrap();
    let calls = fake.chat_calls();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(fake.chat_calls(), calls, "titled once");

    // When the model gives no title, the first words do.
    let untitled = create(&app, &ann.token, "").await;
    fake.push(Behaviour::Answer);
    let refusal = r#"{"error":{"message":"Bad request.","type":"invalid_request_error","code":null}}"#;
    fake.push(Behaviour::Status { code: 400, body: refusal.into() });
    send(&app, &ann.token, &untitled.id, "one two three four five six seven eight").await.unwrap();
    eventually("the first words' title", || {
        let title = title_of(untitled.id.clone());
        async move { if title.await == "one two three four five six…" { Ok(()) } else { Err("not titled yet") } }
    })
    .await;
}

async fn a_channel_reset_starts_a_new_conversation_and_keeps_the_old(backend: Backend) {
    let fake = FakeOpenAi::start().await;
    let Some(app) = app_with(backend, &fake, |_| {}).await else { return };
    let run = running(&app).await;
    let token = &run.session.token;
    let mut edge = EdgeServiceClient::new(app.channel.clone());
    let id = run.resource.id.clone();
    edge.converse(authed(converse(&id, "chat-1", "u1", "before the reset"), EDGE_TOKEN)).await.unwrap();
    let reset =
        ResetConversationRequest { instance_id: "one".into(), resource_id: id.clone(), chat_id: "chat-1".into() };
    edge.reset_conversation(authed(reset.clone(), EDGE_TOKEN)).await.unwrap();
    edge.reset_conversation(authed(reset, EDGE_TOKEN)).await.unwrap();
    edge.converse(authed(converse(&id, "chat-1", "u2", "after the reset"), EDGE_TOKEN)).await.unwrap();

    let listed = list(&app, token, &format!("resource_id = \"{id}\""), "").await;
    assert_eq!(titles(&listed), ["after the reset", "before the reset"], "a reset twice leaves no empty one");
    let (new, old) = (listed[0].conversation.clone().unwrap(), listed[1].conversation.clone().unwrap());
    assert!(new.current && !old.current);
    assert_eq!(texts(&app, token, &old.id).await.unwrap(), ["before the reset", "You said: before the reset"]);
    assert_eq!(asked(&fake), ["after the reset"], "the model no longer sees the old one");
    // A channel's conversation is read in the browser and answered in its channel only.
    let refused = send(&app, token, &new.id, "from the browser").await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("Shop"), "{}", refused.message());
}
