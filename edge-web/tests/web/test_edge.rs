//! The test provider, on the shared edge client: it answers each start with ready (after a
//! delay when asked to) or with the error its settings ask for, or as a test's own answerer
//! says, keeps every start it got, and lets a test write to a running resource as a person of
//! its channel.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use assistchat_edge_client::{
    ChannelUser, EdgeClient, EdgeConfig, Provider, ProviderHello, ResourceErrorAction, ResourceInfoItem,
    ResourceInfoKind, ResourceStart, Session,
};
use tokio::{sync::oneshot, task::JoinHandle};

pub use assistchat_test_support::test_provider::EDGE_TOKEN;

/// The hello of the test provider `provider`, as the edge client sends it.
pub fn hello(provider: &str) -> ProviderHello {
    let hello = assistchat_test_support::test_provider::hello(provider, "");
    ProviderHello {
        name: hello.provider,
        version: hello.version,
        display_name: hello.display_name,
        description: hello.description,
        settings_schema_json: hello.settings_schema_json,
        secret_fields: hello.secret_fields,
        identity_fields: hello.identity_fields,
    }
}

/// What the test provider answers a start with.
pub enum Answer {
    /// Ready, reporting these items.
    Ready(Vec<ResourceInfoItem>),
    /// This error, with its reason's code; the user is to fix the settings.
    Error { detail: String, reason: String },
}

/// How the test provider answers each start.
pub type Answerer = fn(&ResourceStart) -> Answer;

/// The usual answer: the error the settings' `fail_with` asks for, else ready with the account
/// (`@` and the resource's name).
pub fn answer(start: &ResourceStart) -> Answer {
    let settings: serde_json::Value = serde_json::from_str(&start.settings_json).unwrap();
    if let Some(detail) = settings.get("fail_with").and_then(|value| value.as_str()) {
        return Answer::Error { detail: detail.into(), reason: "TOKEN_REJECTED".into() };
    }
    let account = ResourceInfoItem {
        key: "account".into(),
        label: "Account".into(),
        value: format!("@{}", start.name.to_lowercase().replace(' ', "_")),
        kind: ResourceInfoKind::Text.into(),
    };
    Answer::Ready(vec![account])
}

/// The provider's code.
struct TestProvider {
    hello: ProviderHello,
    /// How long a start takes to answer.
    delay: Duration,
    /// How it answers.
    answer: Answerer,
    starts: Arc<Mutex<Vec<ResourceStart>>>,
    /// The sessions of the resources running ready, by resource id.
    running: Arc<Mutex<HashMap<String, Session>>>,
}

impl Provider for TestProvider {
    fn hello(&self) -> ProviderHello {
        self.hello.clone()
    }

    async fn run(&self, start: ResourceStart, session: Session) {
        self.starts.lock().unwrap().push(start.clone());
        tokio::select! {
            () = tokio::time::sleep(self.delay) => {}
            () = session.cancelled() => return,
        }
        match (self.answer)(&start) {
            Answer::Error { detail, reason } => session.error(&detail, &reason, ResourceErrorAction::FixSettings),
            Answer::Ready(items) => {
                session.ready("Connected.", items);
                self.running.lock().unwrap().insert(start.resource_id.clone(), session.clone());
                session.cancelled().await;
                self.running.lock().unwrap().remove(&start.resource_id);
            }
        }
    }
}

/// A running test edge.
pub struct TestEdge {
    starts: Arc<Mutex<Vec<ResourceStart>>>,
    running: Arc<Mutex<HashMap<String, Session>>>,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    task: JoinHandle<()>,
}

impl TestEdge {
    /// Attaches as `provider` to the core at `core_url`, answering at once.
    pub async fn attach(core_url: &str, provider: &str) -> Self {
        Self::attach_with(core_url, hello(provider), Duration::ZERO).await
    }

    /// Attaches with this hello, answering each start `delay` after it came; returns once core
    /// has welcomed it.
    pub async fn attach_with(core_url: &str, hello: ProviderHello, delay: Duration) -> Self {
        Self::attach_answering(core_url, hello, delay, answer).await
    }

    /// Like [`TestEdge::attach_with`], answering each start as `answer` says.
    pub async fn attach_answering(core_url: &str, hello: ProviderHello, delay: Duration, answer: Answerer) -> Self {
        let starts = Arc::new(Mutex::new(Vec::new()));
        let running = Arc::new(Mutex::new(HashMap::new()));
        let provider = TestProvider { hello, delay, answer, starts: starts.clone(), running: running.clone() };
        let config = EdgeConfig { core_url: core_url.into(), edge_token: EDGE_TOKEN.into(), instance_id: None };
        let client = EdgeClient::new(&config, provider).unwrap();
        let mut attached = client.attached();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(client.run_until(async {
            let _ = stopped.await;
        }));
        tokio::time::timeout(Duration::from_secs(10), attached.wait_for(|attached| *attached))
            .await
            .expect("the test edge attaches within 10 s")
            .unwrap();
        Self { starts, running, stop: Mutex::new(Some(stop)), task }
    }

    /// `person` writes `text` in chat `chat_id` of the running resource, as a channel's message
    /// with the id `message_id`; returns the assistant's reply.
    pub async fn converse(
        &self,
        resource_id: &str,
        chat_id: &str,
        person: &str,
        message_id: &str,
        text: &str,
    ) -> String {
        let session = self.running.lock().unwrap().get(resource_id).cloned().expect("the resource runs ready");
        let sender = ChannelUser { id: person.to_lowercase(), display_name: person.into(), username: String::new() };
        let reply = session.converse(chat_id, sender, message_id, text).await.expect("core answers");
        reply.reply_text
    }

    /// Takes the edge away: it stops its resources and closes its stream.
    pub fn kill(&self) {
        if let Some(stop) = self.stop.lock().unwrap().take() {
            let _ = stop.send(());
        }
    }

    /// The starts received for a resource.
    pub fn starts(&self, resource_id: &str) -> Vec<ResourceStart> {
        self.starts.lock().unwrap().iter().filter(|start| start.resource_id == resource_id).cloned().collect()
    }
}

impl Drop for TestEdge {
    fn drop(&mut self) {
        self.kill();
        self.task.abort();
    }
}
