//! Replies being written, by conversation: a person may stop one, and the writer then stores
//! what arrived.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

use tokio::sync::watch;

/// The replies being written now.
#[derive(Debug, Default)]
pub struct Writing {
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    by_conversation: HashMap<String, Entry>,
    /// The id of the next entry, so that a pen outliving its stopped entry leaves a newer one
    /// of the same conversation alone.
    next_id: u64,
}

/// The writers of one conversation and their stop signal.
#[derive(Debug)]
struct Entry {
    id: u64,
    stop: watch::Sender<bool>,
    writers: usize,
}

/// Held by the task writing a reply.
#[derive(Debug)]
pub struct Pen<'a> {
    writing: &'a Writing,
    conversation_id: String,
    entry_id: u64,
    stop: watch::Receiver<bool>,
}

impl Writing {
    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A reply in `conversation_id` begins; it is written until the pen is dropped.
    pub fn begin(&self, conversation_id: &str) -> Pen<'_> {
        let mut entries = self.entries();
        let next_id = entries.next_id;
        let entry = entries.by_conversation.entry(conversation_id.to_owned()).or_insert_with(|| Entry {
            id: next_id,
            stop: watch::Sender::new(false),
            writers: 0,
        });
        entry.writers += 1;
        let (entry_id, stop) = (entry.id, entry.stop.subscribe());
        entries.next_id += 1;
        Pen { writing: self, conversation_id: conversation_id.to_owned(), entry_id, stop }
    }

    /// Stops every reply being written in `conversation_id`; whether there was one.
    pub fn stop(&self, conversation_id: &str) -> bool {
        let Some(entry) = self.entries().by_conversation.remove(conversation_id) else {
            return false;
        };
        entry.stop.send_replace(true);
        true
    }

    /// Whether a reply is being written in `conversation_id`.
    pub fn is_writing(&self, conversation_id: &str) -> bool {
        self.entries().by_conversation.contains_key(conversation_id)
    }
}

impl Pen<'_> {
    /// Resolves once the reply is to stop; never otherwise.
    pub async fn stopped(&mut self) {
        if self.stop.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for Pen<'_> {
    fn drop(&mut self) {
        let mut entries = self.writing.entries();
        let Some(entry) = entries.by_conversation.get_mut(&self.conversation_id) else {
            return;
        };
        if entry.id != self.entry_id {
            return;
        }
        entry.writers -= 1;
        if entry.writers == 0 {
            entries.by_conversation.remove(&self.conversation_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_stop_reaches_every_writer_of_its_conversation_only() {
        let writing = Writing::default();
        let (mut one, mut two, mut other) = (writing.begin("a"), writing.begin("a"), writing.begin("b"));
        assert!(writing.is_writing("a"));
        assert!(writing.stop("a"));
        one.stopped().await;
        two.stopped().await;
        let waited = tokio::time::timeout(Duration::from_millis(50), other.stopped()).await;
        assert!(waited.is_err(), "another conversation's reply goes on");
        assert!(!writing.is_writing("a") && writing.is_writing("b"));
        assert!(!writing.stop("a"), "nothing left to stop");
    }

    #[tokio::test]
    async fn a_stopped_pen_leaves_a_newer_reply_alone() {
        let writing = Writing::default();
        let old = writing.begin("a");
        writing.stop("a");
        let mut new = writing.begin("a");
        drop(old);
        assert!(writing.is_writing("a"), "the old pen's drop does not end the new reply");
        let waited = tokio::time::timeout(Duration::from_millis(50), new.stopped()).await;
        assert!(waited.is_err(), "the new reply was not stopped");
        drop(new);
        assert!(!writing.is_writing("a"));
    }
}
