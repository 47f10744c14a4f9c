//! What the model is given: the system prompt, as many recent turns as fit the token budget, and
//! the message to answer.

use crate::{
    ai::{Role, Turn, estimate_tokens},
    store::messages::MessageRecord,
};

/// Tokens each turn costs beyond its text (role and separators, as the chat format adds them).
const TURN_OVERHEAD: u32 = 4;

/// The turns for answering `question`: the system prompt and the question always, and before the
/// question the newest of `history` (given newest first) that fit within `budget` tokens.
pub fn turns(system_prompt: &str, history: &[MessageRecord], question: &str, budget: u32) -> Vec<Turn> {
    let cost = |text: &str| estimate_tokens(text).saturating_add(TURN_OVERHEAD);
    let mut left = budget.saturating_sub(cost(system_prompt)).saturating_sub(cost(question));
    let kept = history
        .iter()
        .take_while(|message| match left.checked_sub(cost(&message.text)) {
            Some(rest) => {
                left = rest;
                true
            }
            None => false,
        })
        .count();
    let mut turns = Vec::with_capacity(kept + 2);
    turns.push(Turn { role: Role::System, text: system_prompt.to_owned() });
    turns.extend(history[..kept].iter().rev().map(|message| Turn {
        role: if message.is_reply() { Role::Assistant } else { Role::User },
        text: message.text.clone(),
    }));
    turns.push(Turn { role: Role::User, text: question.to_owned() });
    turns
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::messages::{ROLE_ASSISTANT, ROLE_USER};

    fn message(role: &str, text: &str) -> MessageRecord {
        MessageRecord {
            id: String::new(),
            conversation_id: String::new(),
            role: role.into(),
            text: text.into(),
            sender_name: String::new(),
            reply_id: None,
            failure_reason: String::new(),
            failure_detail: String::new(),
            prompt_tokens: 0,
            completion_tokens: 0,
            model: String::new(),
            stopped: 0,
            create_time: 0,
        }
    }

    #[test]
    fn the_newest_turns_that_fit_are_kept_in_order() {
        // Newest first, as the store gives them; each costs 2 + 4 tokens.
        let history = [
            message(ROLE_ASSISTANT, "answer 2"),
            message(ROLE_USER, "ask 2..."),
            message(ROLE_ASSISTANT, "answer 1"),
            message(ROLE_USER, "ask 1..."),
        ];
        // system (1 + 4) + question (1 + 4) + two turns (12) = 22.
        let turns = turns("sys", &history, "now", 22);
        let texts: Vec<_> = turns.iter().map(|turn| turn.text.as_str()).collect();
        assert_eq!(texts, ["sys", "ask 2...", "answer 2", "now"]);
        assert_eq!(turns[1].role, Role::User);
        assert_eq!(turns[2].role, Role::Assistant);
    }

    #[test]
    fn a_tiny_budget_still_sends_the_prompt_and_the_question() {
        let history = [message(ROLE_ASSISTANT, "answer")];
        let turns = turns("a long system prompt", &history, "a long question", 1);
        assert_eq!(turns.len(), 2);
    }
}
