//! Search over a million stored messages, on SQLite and PostgreSQL: the latency of a person's
//! full-text search (p50, p95), and the throughput of storing messages with the search index
//! kept in step next to the same inserts without it.
//!
//! `cargo run --release -p assistchat-core --example search_load [-- <messages> <users>]`
//! (1,000,000 messages of 100 people by default). PostgreSQL is reached at
//! `ASSISTCHAT_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`); a
//! database is created for the run and dropped after it. Everything stays on this machine.

use std::time::{Duration, Instant};

use assistchat_core::store::{
    Backend, Store,
    conversations::{ChannelFilter, ChatRecord, search_words},
    messages::NewMessage,
};
use sqlx::{Connection, Executor, PgConnection};
use tempfile::TempDir;

/// Messages of one conversation.
const PER_CONVERSATION: usize = 100;
/// Words of one message.
const WORDS_PER_MESSAGE: usize = 12;
/// Rows of one bulk insert.
const BATCH: usize = 1000;
/// Messages stored one by one, the way conversations store them, for the insert throughput.
const TIMED_INSERTS: usize = 20_000;
/// Messages stored at once for the throughput, as many people write at the same time.
const WRITERS: usize = 8;
/// Searches timed.
const QUERIES: usize = 500;

/// A small, seeded generator: the same data on every run and backend.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or_default()
    }
}

/// 6000 words: 5000 rare ones and 1000 common ones, Latin and Cyrillic alike.
fn vocabulary() -> Vec<String> {
    let latin = ["ka", "lo", "mi", "ne", "ra", "su", "ti", "vo", "ze", "pa", "do", "ge"];
    let cyrillic = ["ка", "ло", "ми", "не", "ра", "су", "ти", "во", "зе", "па", "до", "ге"];
    let mut rng = Rng(7);
    (0..6000)
        .map(|n| {
            let syllables = if n % 3 == 0 { &cyrillic } else { &latin };
            (0..3 + n % 3).map(|_| syllables[rng.below(syllables.len())]).collect::<String>() + &n.to_string()
        })
        .collect()
}

/// A message: common words half the time, rare ones else.
fn text(rng: &mut Rng, words: &[String]) -> String {
    (0..WORDS_PER_MESSAGE)
        .map(|_| if rng.below(2) == 0 { &words[5000 + rng.below(1000)] } else { &words[rng.below(5000)] })
        .cloned()
        .collect::<Vec<_>>()
        .join(" ")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

/// A fresh database of `backend`: its URL and what to drop after.
async fn fresh(backend: Backend, dir: &TempDir, name: &str) -> (String, Option<String>) {
    match backend {
        Backend::Sqlite => (format!("sqlite://{}/{name}.db?mode=rwc", dir.path().display()), None),
        Backend::Postgres => {
            let admin = std::env::var("ASSISTCHAT_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
            let mut conn = PgConnection::connect(&admin).await.expect("PostgreSQL on 127.0.0.1:5432");
            let db = format!("assistchat_bench_{name}_{}", std::process::id());
            conn.execute(format!("CREATE DATABASE {db}").as_str()).await.unwrap();
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base).to_owned();
            (format!("{base}/{db}"), Some(db))
        }
    }
}

async fn drop_database(db: Option<String>) {
    if let Some(db) = db {
        let admin = std::env::var("ASSISTCHAT_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let mut conn = PgConnection::connect(&admin).await.unwrap();
        conn.execute(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)").as_str()).await.unwrap();
    }
}

/// People `0..users`, each with a browser chat.
async fn people(store: &Store, users: usize) -> Vec<(String, ChatRecord)> {
    let mut people = Vec::new();
    for n in 0..users {
        let id = format!("{n:032x}");
        sqlx::query("INSERT INTO users (id, email, password_hash, create_time) VALUES ($1, $2, 'x', 0)")
            .bind(&id)
            .bind(format!("person{n}@example.com"))
            .execute(store.pool())
            .await
            .unwrap();
        let chat = store.chat(&id, None, "browser", 0).await.unwrap();
        people.push((id, chat));
    }
    people
}

/// Stores `count` messages through the store, as conversations do, `WRITERS` at a time; the
/// messages per second.
async fn timed_inserts(store: &Store, people: &[(String, ChatRecord)], words: &[String], count: usize) -> f64 {
    let mut conversations = Vec::new();
    for (user, chat) in people {
        conversations.push(store.current_conversation(user, chat, 0).await.unwrap());
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let (store, conversations, words) = (store.clone(), conversations.clone(), words.to_vec());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(100 + writer as u64);
            for n in 0..count / WRITERS {
                let conversation = &conversations[(writer + n * WRITERS) % conversations.len()];
                let text = text(&mut rng, &words);
                let new =
                    NewMessage { conversation, text: &text, external_id: None, sender_id: "", sender_name: "", now: 1 };
                store.insert_message(&new).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    count as f64 / started.elapsed().as_secs_f64()
}

/// Fills the database to `total` messages of `people`, in bulk.
async fn fill(store: &Store, people: &[(String, ChatRecord)], words: &[String], total: usize) {
    let mut rng = Rng(42);
    let per_person = total / people.len();
    let started = Instant::now();
    let mut stored = 0;
    for (user, chat) in people {
        let mut chat = chat.clone();
        for conversation_start in (0..per_person).step_by(PER_CONVERSATION) {
            chat.conversation += 1;
            sqlx::query("UPDATE chats SET conversation = $1 WHERE id = $2")
                .bind(chat.conversation)
                .bind(&chat.id)
                .execute(store.pool())
                .await
                .unwrap();
            let conversation =
                store.current_conversation(user, &chat, i64::try_from(conversation_start).unwrap()).await.unwrap();
            for batch_start in (0..PER_CONVERSATION).step_by(BATCH) {
                let rows = BATCH.min(PER_CONVERSATION - batch_start);
                let mut sql = String::from(
                    "INSERT INTO messages (id, conversation_id, chat_id, user_id, role, text, sender_id, sender_name, \
                     external_id, reply_id, failure_reason, failure_detail, attempt_count, prompt_tokens, \
                     completion_tokens, model, stopped, create_time) VALUES ",
                );
                let texts: Vec<String> = (0..rows).map(|_| text(&mut rng, words)).collect();
                for (n, _) in texts.iter().enumerate() {
                    if n > 0 {
                        sql.push(',');
                    }
                    sql.push_str(&format!(
                        "('{:016x}{:016x}', $1, $2, $3, '{}', ${}, '', '', NULL, NULL, '', '', 0, 0, 0, '', 0, 0)",
                        stored + n,
                        rng.next(),
                        if n % 2 == 0 { "user" } else { "assistant" },
                        n + 4
                    ));
                }
                let mut query = sqlx::query(&sql).bind(&conversation.id).bind(&chat.id).bind(user);
                for text in &texts {
                    query = query.bind(text);
                }
                query.execute(store.pool()).await.unwrap();
                stored += rows;
            }
        }
    }
    println!("  filled {stored} messages in {:.0} s", started.elapsed().as_secs_f64());
}

async fn run(backend: Backend, total: usize, users: usize) {
    let dir = TempDir::new().unwrap();
    let words = vocabulary();
    println!("{backend:?}: {total} messages of {users} people");

    let (url, db) = fresh(backend, &dir, "plain").await;
    let store = Store::open(&url).await.unwrap();
    match backend {
        Backend::Sqlite => store.pool().execute("DROP TRIGGER message_search_insert").await.map(|_| ()),
        Backend::Postgres => {
            store.pool().execute("DROP INDEX message_search; ALTER TABLE messages DROP COLUMN search").await.map(|_| ())
        }
    }
    .unwrap();
    let crowd = people(&store, users).await;
    let without = timed_inserts(&store, &crowd, &words, TIMED_INSERTS).await;
    store.close().await;
    drop_database(db).await;

    let (url, db) = fresh(backend, &dir, "indexed").await;
    let store = Store::open(&url).await.unwrap();
    let crowd = people(&store, users).await;
    let with = timed_inserts(&store, &crowd, &words, TIMED_INSERTS).await;
    println!(
        "  inserts, {WRITERS} at a time: {without:.0}/s without the search index, {with:.0}/s with it ({:+.1} %)",
        (with / without - 1.0) * 100.0
    );

    fill(&store, &crowd, &words, total).await;
    if backend == Backend::Postgres {
        store.pool().execute("ANALYZE").await.unwrap();
    }
    for (label, common) in [("a rare word", false), ("a common word", true), ("two words", false)] {
        let mut rng = Rng(9);
        let mut took = Vec::with_capacity(QUERIES);
        let mut found = 0;
        for _ in 0..QUERIES {
            let (user, _) = &crowd[rng.below(crowd.len())];
            let mut query = if common { words[5000 + rng.below(1000)].clone() } else { words[rng.below(5000)].clone() };
            if label == "two words" {
                query = format!("{query} {}", words[5000 + rng.below(1000)]);
            }
            let started = Instant::now();
            let hits =
                store.search_conversations(user, &search_words(&query), &ChannelFilter::Any, 0, 20).await.unwrap();
            took.push(started.elapsed());
            found += hits.len();
        }
        took.sort();
        println!(
            "  search for {label}: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms ({:.1} conversations found on average)",
            percentile(&took, 0.5).as_secs_f64() * 1000.0,
            percentile(&took, 0.95).as_secs_f64() * 1000.0,
            took.last().unwrap().as_secs_f64() * 1000.0,
            found as f64 / QUERIES as f64
        );
    }
    store.close().await;
    drop_database(db).await;
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let total = args.next().map_or(1_000_000, |n| n.parse().expect("a number of messages"));
    let users = args.next().map_or(100, |n| n.parse().expect("a number of people"));
    for backend in [Backend::Sqlite, Backend::Postgres] {
        run(backend, total, users).await;
    }
}
