//! The JSON bodies the OpenAI API sends, shaped as the real service shapes them (including the
//! fields clients ignore, so a client that chokes on them fails here and not in production).

use serde_json::{Value, json};

/// The fingerprint every answer carries; real ones name a backend build.
const FINGERPRINT: &str = "fp_fake";

/// Token counts for one answer.
#[derive(Clone, Copy)]
pub(super) struct Usage {
    pub(super) prompt: u64,
    pub(super) completion: u64,
}

impl Usage {
    fn to_json(self) -> Value {
        json!({
            "prompt_tokens": self.prompt,
            "completion_tokens": self.completion,
            "total_tokens": self.prompt + self.completion,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0
            }
        })
    }
}

/// What every object of one answer shares.
pub(super) struct Answer<'a> {
    pub(super) id: &'a str,
    pub(super) created: u64,
    pub(super) model: &'a str,
    pub(super) text: &'a str,
    /// `None` plays an answer whose usage is missing.
    pub(super) usage: Option<Usage>,
}

impl Answer<'_> {
    /// The `chat.completion` object of a non-streaming answer.
    pub(super) fn completion(&self) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": self.text, "refusal": null, "annotations": []},
                "logprobs": null,
                "finish_reason": "stop"
            }],
            "usage": self.usage.map(Usage::to_json),
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT
        })
    }

    /// The server-sent events of a streaming answer, in order: the role, the content in several
    /// deltas, the finish reason, the usage when asked for (`include_usage`), then `[DONE]`.
    pub(super) fn events(&self, include_usage: bool) -> Vec<String> {
        let mut deltas = vec![self.chunk(json!({"role": "assistant", "content": "", "refusal": null}), None)];
        // Word by word, spaces kept, so the deltas join back into the text exactly.
        deltas.extend(self.text.split_inclusive(' ').map(|piece| self.chunk(json!({"content": piece}), None)));
        deltas.push(self.chunk(json!({}), Some("stop")));
        let mut events: Vec<String> = deltas
            .into_iter()
            .map(|mut chunk| {
                if include_usage {
                    // With include_usage on, every chunk carries `"usage": null` but the last.
                    chunk["usage"] = Value::Null;
                }
                chunk
            })
            .map(|chunk| event(&chunk))
            .collect();
        if include_usage && let Some(usage) = self.usage {
            events.push(event(&json!({
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "service_tier": "default",
                "system_fingerprint": FINGERPRINT,
                "choices": [],
                "usage": usage.to_json()
            })));
        }
        events.push("data: [DONE]\n\n".to_owned());
        events
    }

    fn chunk(&self, delta: Value, finish_reason: Option<&str>) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}]
        })
    }
}

fn event(data: &Value) -> String {
    format!("data: {data}\n\n")
}

/// The body of every error: `{"error": {message, type, param, code}}`.
pub(super) fn error(message: &str, kind: &str, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

/// The list `GET /v1/models` returns.
pub(super) fn models(ids: &[&str], created: u64) -> Value {
    let data: Vec<Value> =
        ids.iter().map(|id| json!({"id": id, "object": "model", "created": created, "owned_by": "openai"})).collect();
    json!({"object": "list", "data": data})
}
